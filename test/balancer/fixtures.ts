/** Shared bits of the balancer tests: a seeded PRNG, a fake clock, pick contexts and tallies. */
import assert from "node:assert/strict";
import type { NodeInfo } from "../../src/core/node-info.js";
import { createMetadata, type Metadata } from "../../src/core/metadata.js";
import type { PickContext, PickResult } from "../../src/balancer/index.js";

/** Mulberry32: a small deterministic PRNG in [0, 1). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A clock the test moves by hand. */
export function fakeClock(start = 1_000_000): { now: () => number; advance(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

/** A pick context with the given metadata (and optional claims / exclude). */
export function ctx(
  md: Record<string, string | string[]> = {},
  extra: { claims?: Record<string, unknown>; exclude?: Iterable<string> } = {},
): PickContext {
  const metadata: Metadata = createMetadata(md);
  return {
    metadata,
    ...(extra.claims ? { claims: extra.claims } : {}),
    ...(extra.exclude ? { exclude: new Set(extra.exclude) } : {}),
  };
}

/** Asserts a pick was synchronous and returns it. */
export function sync(r: PickResult): NodeInfo | undefined {
  if (r instanceof Promise) throw new Error("expected a synchronous pick, got a Promise");
  return r;
}

/** Counts picks per nid. */
export function tally(nids: Iterable<string | undefined>): Map<string | undefined, number> {
  const m = new Map<string | undefined, number>();
  for (const n of nids) m.set(n, (m.get(n) ?? 0) + 1);
  return m;
}

/** Asserts that `n` nodes got within ±10% of an even share of `total` picks. */
export function assertEven(counts: Map<string | undefined, number>, total: number, n = 3): void {
  const even = total / n;
  assert.equal(counts.size, n, `picked ${[...counts.keys()].join(",")}`);
  for (const [nid, c] of counts) {
    assert.ok(Math.abs(c - even) <= even * 0.1, `${nid}: ${c} picks, expected ${even.toFixed(0)} ±10%`);
  }
}
