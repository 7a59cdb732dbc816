/**
 * Helpers of the property tests (Node test process): cut bytes at arbitrary points as a network would,
 * join chunks back, and run a step that may fail only with a ConnectError (anything else is rethrown,
 * so the property fails).
 */
import { ConnectError } from "@connectrpc/connect";

/** Splits bytes at the given cut points (any order, any values). */
export function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  out.push(bytes.subarray(prev));
  return out;
}

/** The chunks joined into one array. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Runs f and returns its result, or "connect" if it threw a ConnectError; rethrows anything else. */
export function only<T>(f: () => T): T | "connect" {
  try {
    return f();
  } catch (e) {
    if (e instanceof ConnectError) return "connect";
    throw e;
  }
}
