/**
 * Helpers of the discovery tests: a recording log, hex. (Connections and `eventually` are the shared
 * ones in test/helpers/nats.ts.)
 */
import type { DiscoveryLog } from "../../src/discovery/index.js";

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A log callback that records lines. */
export function recordingLog(): DiscoveryLog & { lines: { level: string; msg: string; fields?: Record<string, unknown> }[] } {
  const lines: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  const log = ((level, msg, fields) => void lines.push({ level, msg, fields })) as DiscoveryLog & { lines: typeof lines };
  log.lines = lines;
  return log;
}

/** Hex → bytes (whitespace ignored). */
export function fromHex(h: string): Uint8Array {
  return Uint8Array.from(h.replace(/\s+/g, "").match(/../g)!.map((b) => parseInt(b, 16)));
}

/** Bytes → hex. */
export function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}
