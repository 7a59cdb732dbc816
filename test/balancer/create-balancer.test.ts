// createBalancer (src/balancer/create-balancer.ts) composing the spreading strategies: the Director's
// balancer seam, exclude honoured by every strategy (synchronous picks), per-service strategies.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createBalancer, parseBalancerConfig } from "../../src/balancer/index.js";
import type { DirectorBalancer } from "../../src/director/types.js";
import { ctx, seeded, sync, tally } from "./fixtures.js";
import { node } from "../helpers/node-info.js";

const nodes = [node("sfu-a"), node("sfu-b"), node("sfu-c")];

describe("spreading strategies", () => {
  test("a Balancer fits the Director's balancer seam", () => {
    const b: DirectorBalancer = createBalancer(parseBalancerConfig({}));
    assert.equal(typeof b.pick, "function");
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
