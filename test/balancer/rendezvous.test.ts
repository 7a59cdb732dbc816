// Rendezvous (HRW) fallback: gateways agree without coordination, node order and local state do not
// matter, and removing one of three nodes moves only that node's keys (about a third).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createBalancer, parseBalancerConfig, rendezvousPick } from "../../src/balancer/index.js";
import { ctx, seeded, sync, tally } from "./fixtures.js";
import { node } from "../helpers/node-info.js";

const three = [node("sfu-a"), node("sfu-b"), node("sfu-c")];
const rooms = Array.from({ length: 3000 }, (_, i) => `room-${i}-${(i * 2654435761) >>> 0}`);

describe("rendezvous hashing fallback", () => {
  test("two gateways without a store agree on every room, whatever their load, order or randomness", () => {
    const config = parseBalancerConfig({ services: { rtc: { strategy: "sticky" } } });
    const g1 = createBalancer(config, { random: seeded(1) });
    const g2 = createBalancer(config, { random: seeded(2) });
    for (let i = 0; i < 30; i++) g1.onCallStart("sfu-a");
    for (let i = 0; i < 30; i++) g2.onCallStart("sfu-c");
    const reversed = [...three].reverse();
    for (const room of rooms.slice(0, 1000)) {
      const a = sync(g1.pick("rtc", three, ctx({}, { claims: { sid: room } })))!;
      const b = sync(g2.pick("rtc", reversed, ctx({ sid: room })))!;
      assert.equal(a.nid, b.nid, room);
      assert.equal(sync(g1.pick("rtc", three, ctx({ "x-ion-sid": room })))!.nid, a.nid, "same key from metadata");
    }
  });

  test("keys spread evenly over the nodes", () => {
    const t = tally(rooms.map((r) => rendezvousPick(r, three)!.nid));
    for (const n of three) assert.ok(Math.abs(t.get(n.nid)! - 1000) < 100, `${n.nid}: ${t.get(n.nid)}`);
  });

  test("removing one of three nodes moves only its keys (about 1/3)", () => {
    const before = rooms.map((r) => rendezvousPick(r, three)!.nid);
    const two = three.filter((n) => n.nid !== "sfu-b");
    const after = rooms.map((r) => rendezvousPick(r, two)!.nid);
    let moved = 0;
    for (let i = 0; i < rooms.length; i++) {
      if (before[i] === after[i]) continue;
      moved++;
      assert.equal(before[i], "sfu-b", `${rooms[i]} moved off a surviving node`);
    }
    const share = moved / rooms.length;
    assert.ok(share > 0.28 && share < 0.39, `moved ${(share * 100).toFixed(1)}%`);
  });

  test("adding a fourth node moves about 1/4 of the keys, all onto the new node", () => {
    const before = rooms.map((r) => rendezvousPick(r, three)!.nid);
    const four = [...three, node("sfu-d")];
    const after = rooms.map((r) => rendezvousPick(r, four)!.nid);
    let moved = 0;
    for (let i = 0; i < rooms.length; i++) {
      if (before[i] === after[i]) continue;
      moved++;
      assert.equal(after[i], "sfu-d");
    }
    assert.ok(moved / rooms.length > 0.2 && moved / rooms.length < 0.3, `moved ${moved}`);
  });

  test("excluding a node is the same as removing it; excluding all yields undefined", () => {
    for (const r of rooms.slice(0, 300)) {
      assert.equal(
        rendezvousPick(r, three, new Set(["sfu-a"]))!.nid,
        rendezvousPick(r, three.filter((n) => n.nid !== "sfu-a"))!.nid,
      );
    }
    assert.equal(rendezvousPick("x", three, new Set(["sfu-a", "sfu-b", "sfu-c"])), undefined);
    assert.equal(rendezvousPick("x", []), undefined);
  });

  test("sticky ignores ejection (a local view) so gateways keep agreeing", () => {
    const config = parseBalancerConfig({ services: { rtc: "sticky" } });
    const g1 = createBalancer(config);
    const g2 = createBalancer(config);
    const room = rooms.find((r) => rendezvousPick(r, three)!.nid === "sfu-a")!;
    g1.onCallEnd("sfu-a", "timeout");
    assert.equal(g1.isEjected("sfu-a"), true);
    assert.equal(sync(g1.pick("rtc", three, ctx({ sid: room })))!.nid, "sfu-a");
    assert.equal(sync(g2.pick("rtc", three, ctx({ sid: room })))!.nid, "sfu-a");
  });

  test("sticky with no key falls back to the default strategy", () => {
    const config = parseBalancerConfig({ default: "round_robin", services: { rtc: "sticky" } });
    const b = createBalancer(config);
    const picks = Array.from({ length: 6 }, () => sync(b.pick("rtc", three, ctx({ sid: "" }, { claims: { uid: "u" } })))!.nid);
    assert.deepEqual(picks, ["sfu-a", "sfu-b", "sfu-c", "sfu-a", "sfu-b", "sfu-c"]);
  });
});
