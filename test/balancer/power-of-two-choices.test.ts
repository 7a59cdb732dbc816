// Least in-flight by power of two choices (src/balancer/power-of-two-choices.ts) through createBalancer,
// with real in-flight accounting and load signals: even spread, the default strategy, steering away
// from busy and loaded nodes.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createBalancer, parseBalancerConfig, type Balancer } from "../../src/balancer/index.js";
import { assertEven, ctx, seeded, sync, tally } from "./fixtures.js";
import { node } from "../helpers/node-info.js";

const nodes = [node("sfu-a"), node("sfu-b"), node("sfu-c")];
const N = 10_000;

/**
 * Simulates traffic: each pick starts a call; while more than `concurrency` calls are open, a random
 * open call ends. Returns the picks.
 */
function simulate(b: Balancer, picks: number, concurrency: number, random: () => number): string[] {
  const open: string[] = [];
  const out: string[] = [];
  for (let i = 0; i < picks; i++) {
    const n = sync(b.pick("rtc", nodes, ctx()));
    assert.ok(n);
    b.onCallStart(n.nid);
    open.push(n.nid);
    out.push(n.nid);
    while (open.length > concurrency) {
      const k = Math.floor(random() * open.length);
      const [nid] = open.splice(k, 1);
      b.onCallEnd(nid!, "ok");
    }
  }
  for (const nid of open) b.onCallEnd(nid, "ok");
  return out;
}

describe("spreading strategies", () => {
  test("P2C: 10,000 picks with calls starting and ending are even within ±10%", () => {
    const random = seeded(42);
    const b = createBalancer(parseBalancerConfig({ default: "p2c" }), { random });
    const picks = simulate(b, N, 30, seeded(7));
    assertEven(tally(picks), N);
    for (const n of nodes) assert.equal(b.inFlight(n.nid), 0, "every call was ended");
  });

  test("P2C is the default strategy", () => {
    const b = createBalancer(parseBalancerConfig(undefined), { random: seeded(3) });
    for (let i = 0; i < 40; i++) b.onCallStart("sfu-a");
    const t = tally(Array.from({ length: 300 }, () => sync(b.pick("rtc", nodes, ctx()))!.nid));
    assert.equal(t.get("sfu-a"), undefined, "the busy node always loses its comparison");
  });

  test("P2C steers away from a node with many calls in flight", () => {
    const b = createBalancer(parseBalancerConfig({}), { random: seeded(1) });
    for (let i = 0; i < 20; i++) b.onCallStart("sfu-a");
    assert.equal(b.inFlight("sfu-a"), 20);
    const picks = simulate(b, 3000, 5, seeded(2));
    const t = tally(picks);
    assert.ok((t.get("sfu-a") ?? 0) < 3000 * 0.05, `busy node got ${t.get("sfu-a")} of 3000`);
    assert.ok(Math.abs((t.get("sfu-b") ?? 0) - (t.get("sfu-c") ?? 0)) < 300);
    for (let i = 0; i < 20; i++) b.onCallEnd("sfu-a", "ok");
    assert.equal(b.inFlight("sfu-a"), 0);
    b.onCallEnd("sfu-a", "ok");
    assert.equal(b.inFlight("sfu-a"), 0, "never negative");
  });

  test("P2C weighs extraInfo.load (scaled by load_weight)", () => {
    const loaded = [node("sfu-a", { load: 50 }), node("sfu-b", { load: 0 }), node("sfu-c", { load: "high" })];
    const b = createBalancer(parseBalancerConfig({}), { random: seeded(9) });
    const t = tally(Array.from({ length: 3000 }, () => sync(b.pick("rtc", loaded, ctx()))!.nid));
    assert.equal(t.get("sfu-a"), undefined, "heavily loaded node never wins a comparison");
    assert.ok((t.get("sfu-c") ?? 0) > 1000, "a non-numeric load counts as 0");

    // With weight 0 the load is ignored and the spread is even again.
    const unweighted = createBalancer(parseBalancerConfig({ load_weight: 0 }), { random: seeded(9) });
    const picks: string[] = [];
    const open: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const n = sync(unweighted.pick("rtc", loaded, ctx()))!;
      unweighted.onCallStart(n.nid);
      open.push(n.nid);
      picks.push(n.nid);
      if (open.length > 10) unweighted.onCallEnd(open.shift()!, "ok");
    }
    assertEven(tally(picks), 3000);
  });

  test("P2C: load and in-flight add up", () => {
    const loaded = [node("sfu-a", { load: 3 }), node("sfu-b", { load: 0 })];
    const b = createBalancer(parseBalancerConfig({}), { random: seeded(5) });
    for (let i = 0; i < 5; i++) b.onCallStart("sfu-b");
    // a: 0 + 3 = 3 < b: 5 + 0 = 5
    assert.equal(sync(b.pick("rtc", loaded, ctx()))!.nid, "sfu-a");
    for (let i = 0; i < 3; i++) b.onCallEnd("sfu-b", "ok");
    // a: 3 > b: 2
    assert.equal(sync(b.pick("rtc", loaded, ctx()))!.nid, "sfu-b");
  });
});
