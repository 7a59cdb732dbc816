// Round-robin (src/balancer/round-robin.ts) through createBalancer: even and in order over 10,000
// picks, one cursor per service, an excluded node skipped without doubling its neighbour.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createBalancer, parseBalancerConfig } from "../../src/balancer/index.js";
import { assertEven, ctx, sync, tally } from "./fixtures.js";
import { node } from "../helpers/node-info.js";

const nodes = [node("sfu-a"), node("sfu-b"), node("sfu-c")];
const N = 10_000;

describe("spreading strategies", () => {
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
});
