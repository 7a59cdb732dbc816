// Sticky placement through JetStream KV on a real nats-server: two gateways (two balancers, each with
// its own NATS connection and store) never split a room, converge when the placed node goes away,
// follow each other's moves through the bucket watch, cope with hostile room ids, and fall back to
// rendezvous hashing when KV or JetStream is unavailable.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { NatsConnection } from "@nats-io/nats-core";
import { Kvm } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import { startNatsServer, type NatsServer } from "../../src/cli/nats-server.js";
import type { NodeInfo } from "../../src/core/node-info.js";
import {
  createBalancer,
  openPlacementStore,
  parseBalancerConfig,
  placementKey,
  rendezvousPick,
  type Balancer,
  type PickResult,
  type PlacementStore,
} from "../../src/balancer/index.js";
import { eventually } from "../helpers/wait.js";
import { ctx, seeded, sync } from "./fixtures.js";
import { node } from "../helpers/node-info.js";

const config = parseBalancerConfig({ services: { rtc: { strategy: "sticky" } } });
const nodes = [node("sfu-a"), node("sfu-b"), node("sfu-c")];
const BUCKET = "edge_signal_placement";

let server: NatsServer;
let nc1: NatsConnection;
let nc2: NatsConnection;
let store1: PlacementStore;
let store2: PlacementStore;
const balancers: Balancer[] = [];

function gateway(store: PlacementStore | undefined, seed: number, extra: Parameters<typeof createBalancer>[1] = {}, cfg = config): Balancer {
  const b = createBalancer(cfg, { ...(store ? { store } : {}), random: seeded(seed), ...extra });
  balancers.push(b);
  return b;
}

/** `n` concurrent picks of `room`, alternating between the gateways; resolves to the nids. */
async function concurrentPicks(gws: Balancer[], room: string, n: number, list: readonly NodeInfo[] = nodes): Promise<{ nids: string[]; async: number }> {
  const results: PickResult[] = [];
  for (let i = 0; i < n; i++) results.push(gws[i % gws.length]!.pick("rtc", list, ctx({}, { claims: { sid: room } })));
  const resolved = await Promise.all(results);
  return { nids: resolved.map((r) => r?.nid ?? "<none>"), async: results.filter((r) => r instanceof Promise).length };
}

before(async () => {
  server = await startNatsServer({ jetstream: true });
  nc1 = await connect({ servers: server.url, name: "gateway-1" });
  nc2 = await connect({ servers: server.url, name: "gateway-2" });
  // Both gateways create the bucket at the same moment.
  const [s1, s2] = await Promise.all([openPlacementStore(nc1), openPlacementStore(nc2)]);
  assert.ok(s1 && s2, "JetStream KV store opened by both gateways");
  store1 = s1;
  store2 = s2;
});

after(async () => {
  await Promise.all(balancers.map((b) => b.close()));
  await store1?.close();
  await store2?.close();
  await nc1?.close();
  await nc2?.close();
  await server?.stop();
});

describe("sticky placement over JetStream KV (two gateways)", () => {
  test("200 concurrent picks of one room through two gateways land on one node; when it disappears, both move to one survivor", async () => {
    const g1 = gateway(store1, 1);
    const g2 = gateway(store2, 2);
    const first = await concurrentPicks([g1, g2], "room-main", 200);
    assert.equal(new Set(first.nids).size, 1, `split: ${[...new Set(first.nids)]}`);
    assert.ok(first.async > 0, "a new room needs the store");
    const placed = first.nids[0]!;
    assert.ok(nodes.some((n) => n.nid === placed));
    assert.equal((await store1.get(placementKey("rtc", "room-main")))?.nid, placed, "the KV holds the placement");

    // Warm caches: later picks are synchronous on both gateways.
    assert.equal(sync(g1.pick("rtc", nodes, ctx({ sid: "room-main" })))?.nid, placed);
    assert.equal(sync(g2.pick("rtc", nodes, ctx({ "x-ion-sid": "room-main" })))?.nid, placed);

    // The placed node leaves the live list. Bias the gateways so that each, on its own, would choose
    // a different survivor (P2C between two nodes is deterministic): only compare-and-set keeps them together.
    const survivors = nodes.filter((n) => n.nid !== placed);
    const [y, z] = survivors as [NodeInfo, NodeInfo];
    for (let i = 0; i < 50; i++) g1.onCallStart(y.nid);
    for (let i = 0; i < 50; i++) g2.onCallStart(z.nid);
    assert.equal(sync(g1.pick("other", survivors, ctx()))?.nid, z.nid, "gateway 1 alone would choose z");
    assert.equal(sync(g2.pick("other", survivors, ctx()))?.nid, y.nid, "gateway 2 alone would choose y");

    const second = await concurrentPicks([g1, g2], "room-main", 200, survivors);
    assert.equal(new Set(second.nids).size, 1, `split after failover: ${[...new Set(second.nids)]}`);
    const moved = second.nids[0]!;
    assert.notEqual(moved, placed);
    assert.ok(survivors.some((n) => n.nid === moved));
    assert.equal((await store2.get(placementKey("rtc", "room-main")))?.nid, moved);
    assert.equal(sync(g1.pick("rtc", survivors, ctx({ sid: "room-main" })))?.nid, moved);
    assert.equal(sync(g2.pick("rtc", survivors, ctx({ sid: "room-main" })))?.nid, moved);

    // When the old node comes back, the room stays where it is now.
    assert.equal(sync(g1.pick("rtc", nodes, ctx({ sid: "room-main" })))?.nid, moved);
    for (let i = 0; i < 50; i++) g1.onCallEnd(y.nid, "ok");
    for (let i = 0; i < 50; i++) g2.onCallEnd(z.nid, "ok");
  });

  test("30 new rooms placed at once from both gateways: none is split, and they spread over nodes", async () => {
    const g1 = gateway(store1, 3);
    const g2 = gateway(store2, 4);
    const rooms = Array.from({ length: 30 }, (_, i) => `burst-${i}`);
    const all = await Promise.all(rooms.map((r) => concurrentPicks([g1, g2], r, 20)));
    const placedOn = new Set<string>();
    for (let i = 0; i < rooms.length; i++) {
      assert.equal(new Set(all[i]!.nids).size, 1, `${rooms[i]} split: ${[...new Set(all[i]!.nids)]}`);
      placedOn.add(all[i]!.nids[0]!);
      assert.equal((await store1.get(placementKey("rtc", rooms[i]!)))?.nid, all[i]!.nids[0]);
    }
    assert.ok(placedOn.size > 1, "new rooms are spread by the default strategy");
  });

  test("a gateway that excludes the placed node moves the room; the other follows through the watch", async () => {
    const g1 = gateway(store1, 5);
    const g2 = gateway(store2, 6);
    const { nids } = await concurrentPicks([g1, g2], "room-watch", 10);
    const placed = nids[0]!;
    assert.equal(sync(g2.pick("rtc", nodes, ctx({ sid: "room-watch" })))?.nid, placed, "gateway 2 has it cached");

    // The Director on gateway 1 got no_responders from `placed` and retries elsewhere.
    g1.onCallEnd(placed, "no_responders");
    const retry = await g1.pick("rtc", nodes, ctx({ sid: "room-watch" }, { exclude: [placed] }));
    assert.ok(retry && retry.nid !== placed);
    assert.equal((await store1.get(placementKey("rtc", "room-watch")))?.nid, retry.nid);

    // Gateway 2 still sees `placed` live, but the bucket watch tells it the room moved.
    await eventually(() => sync(g2.pick("rtc", nodes, ctx({ sid: "room-watch" })))?.nid === retry.nid, 10_000, "gateway 2 to follow the move");
    assert.equal(sync(g1.pick("rtc", nodes, ctx({ sid: "room-watch" })))?.nid, retry.nid);
  });

  test("hostile room ids are placed consistently, each under its own KV key", async () => {
    const g1 = gateway(store1, 7);
    const g2 = gateway(store2, 8);
    const rooms = ["*", ">", "a.b", "room.>", "a b", " ", "房间 🎉", "\uD800", "e\u0301", "$KV.x", "_INBOX.y", "x".repeat(10 * 1024), "🎉".repeat(3000), "r-hostile", "hostile"];
    for (const room of rooms) {
      const { nids } = await concurrentPicks([g1, g2], room, 20);
      assert.equal(new Set(nids).size, 1, `${JSON.stringify(room.slice(0, 12))} split`);
      assert.equal((await store2.get(placementKey("rtc", room)))?.nid, nids[0]);
    }
    const kv = await new Kvm(nc1).open(BUCKET);
    const keys: string[] = [];
    for await (const k of await kv.keys("r-rtc.>")) keys.push(k);
    for (const room of rooms) assert.ok(keys.includes(placementKey("rtc", room)), JSON.stringify(room.slice(0, 12)));
    assert.equal(new Set(rooms.map((r) => placementKey("rtc", r))).size, rooms.length);
  });

  test("an empty room id is no key: the call is balanced normally, nothing is written", async () => {
    const g1 = gateway(store1, 9);
    const r = g1.pick("rtc", nodes, ctx({ sid: "" }, { claims: { sid: "" } }));
    assert.ok(!(r instanceof Promise));
    assert.ok(r);
    assert.equal(await store1.get(placementKey("rtc", "")), undefined);
  });

  test("long-lived placements are rewritten (same node) before the bucket's max age drops them", async () => {
    let offset = 0;
    const cfg = parseBalancerConfig({ services: { rtc: "sticky" }, placement: { ttl_ms: 60_000, cache_ttl_ms: 600_000 } });
    const g1 = gateway(store1, 10, { now: () => Date.now() + offset }, cfg);
    const placed = (await g1.pick("rtc", nodes, ctx({ sid: "room-old" })))!.nid;
    const rev = (await store1.get(placementKey("rtc", "room-old")))!.revision;
    offset = 31_000; // older than ttl / 2
    assert.equal(sync(g1.pick("rtc", nodes, ctx({ sid: "room-old" })))?.nid, placed, "still synchronous");
    const rec = await eventually(async () => {
      const r = await store1.get(placementKey("rtc", "room-old"));
      return r && r.revision > rev ? r : undefined;
    }, 10_000, "the refresh write");
    assert.equal(rec.nid, placed);
  });

  test("when KV fails, new rooms fall back to rendezvous hashing and placed rooms stay put", async () => {
    const nc3 = await connect({ servers: server.url, name: "gateway-3" });
    const store3 = (await openPlacementStore(nc3))!;
    const errors: string[] = [];
    let offset = 0;
    const g3 = gateway(store3, 11, { onError: (_e, c) => errors.push(c), now: () => Date.now() + offset });
    // A room placed (by P2C) on b, where rendezvous hashing would put it on a.
    const pair = nodes.slice(0, 2);
    const room = Array.from({ length: 100 }, (_, i) => `kept-${i}`).find((r) => rendezvousPick(r, pair)?.nid === "sfu-a")!;
    for (let i = 0; i < 10; i++) g3.onCallStart("sfu-a");
    assert.equal((await g3.pick("rtc", pair, ctx({ sid: room })))?.nid, "sfu-b");
    await nc3.close();
    offset = 31_000; // the cached placement of `room` is now past its cache TTL
    const picked = await g3.pick("rtc", nodes, ctx({ sid: "room-kv-down" }));
    assert.equal(picked?.nid, rendezvousPick("room-kv-down", nodes)?.nid);
    assert.ok(errors.some((c) => c.includes("rendezvous")), errors.join("; "));
    // While KV is considered down, picks are synchronous rendezvous picks.
    assert.equal(sync(g3.pick("rtc", nodes, ctx({ sid: "room-kv-down-2" })))?.nid, rendezvousPick("room-kv-down-2", nodes)?.nid);
    // ...but a room this gateway had placed keeps its node, even though its cache entry is past its TTL.
    assert.equal(sync(g3.pick("rtc", pair, ctx({ sid: room })))?.nid, "sfu-b");
    for (let i = 0; i < 10; i++) g3.onCallEnd("sfu-a", "ok");
    // store3 is not closed by hand: it closes with its connection (else its watch retries would keep
    // this process alive and the run would never end).
  });

  test("a bucket that already exists with other limits is bound, and shares placements", async () => {
    const store = await openPlacementStore(nc1, { ...parseBalancerConfig({ placement: { ttl_ms: 5_000 } }).placement });
    assert.ok(store);
    assert.equal((await store.get(placementKey("rtc", "room-main")))?.nid, (await store1.get(placementKey("rtc", "room-main")))?.nid);
    const g = gateway(store, 12);
    const g1 = gateway(store1, 13);
    const { nids } = await concurrentPicks([g, g1], "room-bound", 10);
    assert.equal(new Set(nids).size, 1);
    await store.close();
  });
});

describe("without JetStream", () => {
  let plain: NatsServer;
  let nc: NatsConnection;
  before(async () => {
    plain = await startNatsServer({ jetstream: false });
    nc = await connect({ servers: plain.url, name: "gateway-nojs" });
  });
  after(async () => {
    await nc?.close();
    await plain?.stop();
  });

  test("openPlacementStore resolves to undefined and sticky falls back to rendezvous hashing", async () => {
    const errors: string[] = [];
    const store = await openPlacementStore(nc, { onError: (_e, c) => errors.push(c) });
    assert.equal(store, undefined);
    assert.ok(errors.some((c) => c.includes("unavailable")));
    // JetStream's absence is told by nats.js's error class: no attempt to bind to an existing bucket.
    assert.ok(!errors.some((c) => c.includes("binding")), errors.join("; "));
    const g1 = gateway(store, 14);
    const g2 = gateway(store, 15);
    for (let i = 0; i < 100; i++) g1.onCallStart("sfu-a");
    for (let i = 0; i < 200; i++) {
      const room = `room-${i}`;
      const a = sync(g1.pick("rtc", nodes, ctx({ sid: room })));
      const b = sync(g2.pick("rtc", [...nodes].reverse(), ctx({}, { claims: { sid: room } })));
      assert.equal(a?.nid, b?.nid);
      assert.equal(a?.nid, rendezvousPick(room, nodes)?.nid);
    }
  });
});
