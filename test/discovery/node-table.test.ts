/** NodeTable: per-service index, cached arrays, change events, expiry sweep. randomNid. */
import { deepStrictEqual, equal, match, notEqual, ok } from "node:assert/strict";
import { describe, it } from "node:test";
import { NodeTable, randomNid, type NodeChange, type NodeInfo } from "../../src/discovery/index.js";

function node(nid: string, service: string, extra: Record<string, unknown> = {}, lastSeen = 1000): NodeInfo {
  return { nid, service, dc: "dc1", rpc: { protocol: "nats-grpc", addr: "nats://x", params: {} }, extraInfo: extra, source: "discovery", lastSeen };
}

describe("NodeTable", () => {
  it("indexes by service and nid, caches nodes(service) until a change", () => {
    let clock = 1000;
    const t = new NodeTable({ now: () => clock });
    const changes: NodeChange[] = [];
    t.onChange((c) => changes.push(c));
    equal(t.upsert(node("sfu-1", "rtc")), "up");
    equal(t.upsert(node("sfu-2", "rtc")), "up");
    equal(t.upsert(node("room-1", "room")), "up");
    const rtc = t.nodes("rtc");
    deepStrictEqual(rtc.map((n) => n.nid), ["sfu-1", "sfu-2"]);
    equal(t.nodes("rtc"), rtc, "same cached array while nothing changed");
    ok(Object.isFrozen(rtc));
    equal(t.nodes("*").length, 3);
    equal(t.nodes("nope").length, 0);
    deepStrictEqual(t.services().sort(), ["room", "rtc"]);
    equal(t.get("room-1")?.service, "room");

    // A refresh without data changes is silent and keeps the cache.
    clock = 2000;
    equal(t.upsert(node("sfu-1", "rtc", {}, 2000)), "touch");
    equal(t.nodes("rtc"), rtc);
    equal(t.get("sfu-1")?.lastSeen, 2000);
    // Changing another service's node leaves rtc's cache alone.
    t.upsert(node("room-2", "room"));
    equal(t.nodes("rtc"), rtc);
    // A data change emits update and rebuilds.
    equal(t.upsert(node("sfu-1", "rtc", { load: 3 }, 2000)), "update");
    notEqual(t.nodes("rtc"), rtc);
    equal(t.nodes("rtc")[0]?.extraInfo.load, 3);
    // Moving a nid to another service = down + up.
    t.upsert(node("sfu-2", "room"));
    deepStrictEqual(t.nodes("rtc").map((n) => n.nid), ["sfu-1"]);
    equal(t.remove("sfu-1")?.nid, "sfu-1");
    equal(t.remove("sfu-1"), undefined);
    deepStrictEqual(t.services(), ["room"]);
    deepStrictEqual(
      changes.map((c) => `${c.type}:${c.node.nid}${c.type === "down" ? ":" + c.reason : ""}`),
      ["up:sfu-1", "up:sfu-2", "up:room-1", "up:room-2", "update:sfu-1", "down:sfu-2:replaced", "up:sfu-2", "down:sfu-1:delete"],
    );
    t.close();
    equal(t.size, 0);
  });

  it("sweeps nodes not seen within their ttl", () => {
    let clock = 0;
    const t = new NodeTable({ now: () => clock, expireMs: 7000 });
    const downs: string[] = [];
    t.onChange((c) => c.type === "down" && downs.push(`${c.node.nid}:${c.reason}`));
    t.upsert(node("a", "s", {}, 0));
    t.upsert(node("b", "s", {}, 0), 1000);
    equal(t.sweep(500), 0);
    equal(t.sweep(1000), 1);
    ok(t.touch("a", 5000));
    ok(!t.touch("zz"));
    equal(t.sweep(11_999), 0);
    equal(t.sweep(12_000), 1);
    deepStrictEqual(downs, ["b:expired", "a:expired"]);
    t.close();
  });

  it("runs its own sweep timer while not empty, and close() stops it", async () => {
    const t = new NodeTable({ expireMs: 50, sweepMs: 20 });
    t.upsert(node("a", "s", {}, Date.now()));
    const deadline = Date.now() + 5000;
    while (t.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    equal(t.size, 0, "expired by the timer");
    t.upsert(node("b", "s", {}, Date.now()));
    t.close();
  });

  it("a stalled process (event loop blocked past the expiry) does not expire its nodes; onStall hears it", async () => {
    const t = new NodeTable({ expireMs: 100, sweepMs: 20, stallMs: 200 });
    const stalls: number[] = [];
    t.onStall((ms) => stalls.push(ms));
    t.upsert(node("a", "s", {}, Date.now()));
    const blockedUntil = Date.now() + 400; // 4× the expiry, the process runs nothing meanwhile
    while (Date.now() < blockedUntil) {
      // the stall
    }
    const deadline = Date.now() + 5000;
    while (stalls.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    ok(stalls.length === 1 && stalls[0]! >= 200, `one stall reported (${stalls.join(", ")} ms late)`);
    ok(t.get("a"), "the late sweep tick did not expire the node: keepalives may still be queued");
    while (t.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    equal(t.size, 0, "unrefreshed, it expires once the process has run for its ttl");
    t.close();
  });

  it("a throwing listener does not break others", () => {
    const t = new NodeTable();
    let seen = 0;
    t.onChange(() => {
      throw new Error("boom");
    });
    const off = t.onChange(() => seen++);
    t.upsert(node("a", "s"));
    off();
    t.upsert(node("b", "s"));
    equal(seen, 1);
    t.close();
  });
});

describe("randomNid", () => {
  it("is <prefix>- and 6 chars of [a-zA-Z0-9], and varies", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const id = randomNid("sfu");
      match(id, /^sfu-[a-zA-Z0-9]{6}$/);
      seen.add(id);
    }
    ok(seen.size > 490);
  });
});
