// Pinning by header: `x-edge-node` (as ion-sdk-js sends response headers back on later calls) is
// honoured only when it names a live, non-excluded, non-ejected node of the service being called.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createBalancer, parseBalancerConfig, DEFAULT_PIN_HEADER, pinnedNode } from "../../src/balancer/index.js";
import { createMetadata } from "../../src/core/metadata.js";
import { ctx, seeded, sync, tally } from "./fixtures.js";
import { node } from "../helpers/node-info.js";

const nodes = [node("sfu-a"), node("sfu-b"), node("sfu-c")];

function spread(b: ReturnType<typeof createBalancer>, md: Record<string, string | string[]>, n = 300, exclude?: string[]) {
  return tally(Array.from({ length: n }, () => sync(b.pick("rtc", nodes, ctx(md, exclude ? { exclude } : {})))?.nid));
}

describe("pinning by header", () => {
  test("the default header is x-edge-node and the balancer exposes it", () => {
    assert.equal(DEFAULT_PIN_HEADER, "x-edge-node");
    assert.equal(createBalancer(parseBalancerConfig({})).pinHeader, "x-edge-node");
  });

  for (const strategy of ["p2c", "round_robin", "random"]) {
    test(`${strategy}: a live pinned node gets every call, even when busy`, () => {
      const b = createBalancer(parseBalancerConfig({ default: strategy }), { random: seeded(1) });
      for (let i = 0; i < 50; i++) b.onCallStart("sfu-b");
      assert.deepEqual([...spread(b, { "x-edge-node": "sfu-b" })], [["sfu-b", 300]]);
    });
  }

  test("a nid that is not live for this service is ignored (stale pin, other service, forged)", () => {
    const b = createBalancer(parseBalancerConfig({}), { random: seeded(2) });
    for (const nid of ["sfu-gone", "room-1", "", "*", "sfu-a.x", "sfu-"]) {
      const t = spread(b, { "x-edge-node": nid });
      assert.equal(t.size, 3, `pin ${JSON.stringify(nid)} should fall back to balancing`);
    }
  });

  test("several values (ion-sdk-js appends): the most recent one that is live for this service wins", () => {
    const b = createBalancer(parseBalancerConfig({}), { random: seeded(3) });
    assert.deepEqual([...spread(b, { "x-edge-node": ["sfu-a", "room-1"] })], [["sfu-a", 300]]);
    assert.deepEqual([...spread(b, { "x-edge-node": ["sfu-a", "sfu-c", "room-1"] })], [["sfu-c", 300]]);
    assert.deepEqual([...spread(b, { "x-edge-node": ["sfu-a, sfu-b, room-1"] })], [["sfu-b", 300]]);
    assert.deepEqual([...spread(b, { "x-edge-node": ["room-1 ,  sfu-c "] })], [["sfu-c", 300]]);
  });

  test("an excluded pinned node is not picked (the Director's retry goes elsewhere)", () => {
    const b = createBalancer(parseBalancerConfig({}), { random: seeded(4) });
    const t = spread(b, { "x-edge-node": "sfu-a" }, 300, ["sfu-a"]);
    assert.deepEqual([...t.keys()].sort(), ["sfu-b", "sfu-c"]);
    // the next value back is used when the most recent one is excluded
    assert.deepEqual([...spread(b, { "x-edge-node": ["sfu-c", "sfu-a"] }, 50, ["sfu-a"])], [["sfu-c", 50]]);
  });

  test("an ejected pinned node is not picked while ejected", () => {
    let t = 0;
    const b = createBalancer(parseBalancerConfig({}), { random: seeded(5), now: () => t });
    b.onCallEnd("sfu-a", "no_responders");
    assert.equal(spread(b, { "x-edge-node": "sfu-a" }).get("sfu-a"), undefined);
    t += 1000;
    assert.deepEqual([...spread(b, { "x-edge-node": "sfu-a" })], [["sfu-a", 300]]);
  });

  test("custom header name, and empty name disables pinning", () => {
    const custom = createBalancer(parseBalancerConfig({ pin_header: "X-Node" }), { random: seeded(6) });
    assert.equal(custom.pinHeader, "x-node");
    assert.deepEqual([...spread(custom, { "x-node": "sfu-c" })], [["sfu-c", 300]]);
    assert.equal(spread(custom, { "x-edge-node": "sfu-c" }).size, 3);
    const off = createBalancer(parseBalancerConfig({ pinHeader: "" }), { random: seeded(7) });
    assert.equal(off.pinHeader, "");
    assert.equal(spread(off, { "x-edge-node": "sfu-c" }).size, 3);
  });

  test("sticky services: the room's placement wins over a pin; without a room key the pin applies", () => {
    const b = createBalancer(parseBalancerConfig({ services: { rtc: "sticky" } }), { random: seeded(8) });
    const placed = sync(b.pick("rtc", nodes, ctx({ "x-ion-sid": "room-1" })))!.nid;
    const other = nodes.find((n) => n.nid !== placed)!.nid;
    for (let i = 0; i < 20; i++) {
      assert.equal(sync(b.pick("rtc", nodes, ctx({ "x-ion-sid": "room-1", "x-edge-node": other })))!.nid, placed);
    }
    assert.deepEqual([...spread(b, { "x-edge-node": other })], [[other, 300]]);
  });

  test("pinnedNode works on its own", () => {
    const md = createMetadata({ "x-edge-node": ["sfu-b"] });
    assert.equal(pinnedNode(nodes, md, "x-edge-node", undefined, undefined)?.nid, "sfu-b");
    assert.equal(pinnedNode(nodes, md, "x-edge-node", new Set(["sfu-b"]), undefined), undefined);
    assert.equal(pinnedNode(nodes, md, "", undefined, undefined), undefined);
    assert.equal(pinnedNode([], md, "x-edge-node", undefined, undefined), undefined);
  });
});
