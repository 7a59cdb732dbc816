// Spreading strategies: round-robin, random and least in-flight by power of two choices (with real
// in-flight accounting and load signals); exclude support; synchronous picks; Director seam fit.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createBalancer, parseBalancerConfig, type Balancer } from "../../src/balancer/index.js";
import type { DirectorBalancer } from "../../src/director/types.js";
import { ctx, node, seeded, sync, tally } from "./fixtures.js";

const nodes = [node("sfu-a"), node("sfu-b"), node("sfu-c")];
const N = 10_000;

function assertEven(counts: Map<string | undefined, number>, total: number, n = 3): void {
  const even = total / n;
  assert.equal(counts.size, n, `picked ${[...counts.keys()].join(",")}`);
  for (const [nid, c] of counts) {
    assert.ok(Math.abs(c - even) <= even * 0.1, `${nid}: ${c} picks, expected ${even.toFixed(0)} ±10%`);
  }
}

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
  test("a Balancer fits the Director's balancer seam", () => {
    const b: DirectorBalancer = createBalancer(parseBalancerConfig({}));
    assert.equal(typeof b.pick, "function");
  });

  test("round-robin: 10,000 picks over 3 nodes are even, in order", () => {
    const b = createBalancer(parseBalancerConfig({ default: "round_robin" }));
    const picks: string[] = [];
    for (let i = 0; i < N; i++) picks.push(sync(b.pick("rtc", nodes, ctx()))!.nid);
    assertEven(tally(picks), N);
    assert.deepEqual(picks.slice(0, 6), ["sfu-a", "sfu-b", "sfu-c", "sfu-a", "sfu-b", "sfu-c"]);
  });

  test("round-robin keeps one cursor per service", () => {
    const b = createBalancer(parseBalancerConfig({ default: "round_robin" }));
    const rooms = [node("room-1", {}, "room"), node("room-2", {}, "room")];
    assert.equal(sync(b.pick("rtc", nodes, ctx()))!.nid, "sfu-a");
    assert.equal(sync(b.pick("room", rooms, ctx()))!.nid, "room-1");
    assert.equal(sync(b.pick("rtc", nodes, ctx()))!.nid, "sfu-b");
    assert.equal(sync(b.pick("room", rooms, ctx()))!.nid, "room-2");
  });

  test("round-robin skips an excluded node without doubling its neighbour", () => {
    const b = createBalancer(parseBalancerConfig({ default: "round_robin" }));
    const picks: string[] = [];
    for (let i = 0; i < 3000; i++) picks.push(sync(b.pick("rtc", nodes, ctx({}, { exclude: ["sfu-b"] })))!.nid);
    const t = tally(picks);
    assert.equal(t.get("sfu-b"), undefined);
    assert.equal(t.get("sfu-a"), 1500);
    assert.equal(t.get("sfu-c"), 1500);
  });

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

  test("random: 10,000 picks are even within ±10%", () => {
    const b = createBalancer(parseBalancerConfig({ default: "random" }), { random: seeded(11) });
    const picks = Array.from({ length: N }, () => sync(b.pick("rtc", nodes, ctx()))!.nid);
    assertEven(tally(picks), N);
  });

  for (const strategy of ["round_robin", "random", "p2c"] as const) {
    test(`${strategy}: exclude is honoured, and excluding every node yields undefined`, () => {
      const b = createBalancer(parseBalancerConfig({ default: strategy }), { random: seeded(13) });
      for (let i = 0; i < 200; i++) {
        const n = sync(b.pick("rtc", nodes, ctx({}, { exclude: ["sfu-a", "sfu-c"] })));
        assert.equal(n?.nid, "sfu-b");
      }
      const two = tally(Array.from({ length: 600 }, () => sync(b.pick("rtc", nodes, ctx({}, { exclude: ["sfu-a"] })))!.nid));
      assert.deepEqual([...two.keys()].sort(), ["sfu-b", "sfu-c"]);
      assert.equal(sync(b.pick("rtc", nodes, ctx({}, { exclude: ["sfu-a", "sfu-b", "sfu-c"] }))), undefined);
      assert.equal(sync(b.pick("rtc", [], ctx())), undefined);
      assert.equal(sync(b.pick("rtc", [node("solo")], ctx()))?.nid, "solo");
    });
  }

  test("per-service strategy overrides the default", () => {
    const b = createBalancer(
      parseBalancerConfig({ default: "p2c", services: { room: "round_robin" } }),
      { random: seeded(1) },
    );
    const rooms = [node("room-1", {}, "room"), node("room-2", {}, "room")];
    for (let i = 0; i < 10; i++) b.onCallStart("room-1"); // P2C would avoid room-1; round-robin does not care
    const picks = Array.from({ length: 4 }, () => sync(b.pick("room", rooms, ctx()))!.nid);
    assert.deepEqual(picks, ["room-1", "room-2", "room-1", "room-2"]);
  });
});
