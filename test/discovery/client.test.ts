/** Discovery client + registry + node table end to end, on a real nats-server. */
import { deepStrictEqual, equal, ok, rejects, throws } from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { NatsConnection } from "@nats-io/nats-core";
import { startNatsServer, type NatsServer } from "../../src/cli/nats-server.js";
import {
  decodeRequest,
  DiscoveryClient,
  encodeRequest,
  NodeTable,
  randomNid,
  startRegistry,
  syncDiscovery,
  type NodeChange,
  type NodeInfo,
  type Registry,
  type WatchEvent,
  type Watcher,
} from "../../src/discovery/index.js";
import { eventually, tcp } from "../helpers/nats.js";
import { recordingLog, sleep } from "./helpers.js";

function info(nid: string, service: string, extraInfo: Record<string, unknown> = {}): NodeInfo {
  return { nid, service, dc: "dc1", rpc: { protocol: "nats-grpc", addr: "nats://127.0.0.1:4222", params: {} }, extraInfo, source: "discovery", lastSeen: 0 };
}

describe("discovery client, registry and node table", () => {
  let server: NatsServer;
  let regConn: NatsConnection;
  let nodeConn: NatsConnection;
  let gwConn: NatsConnection;
  let registry: Registry;
  let table: NodeTable;
  let sync: Watcher;
  const changes: NodeChange[] = [];

  before(async () => {
    server = await startNatsServer();
    [regConn, nodeConn, gwConn] = await Promise.all([tcp(server, "registry"), tcp(server, "node"), tcp(server, "gateway")]);
    registry = await startRegistry(regConn); // ION defaults: 5 s expiry, 1 s checks
    table = new NodeTable(); // default 7 s own expiry
    table.onChange((c) => changes.push(c));
    sync = await syncDiscovery(gwConn, table, { service: "*" });
  });

  after(async () => {
    await sync.close();
    table.close();
    await registry.stop();
    await Promise.all([regConn.close(), nodeConn.close(), gwConn.close()]);
    await server.stop();
  });

  it("a node appears in the watcher's table within 1 s of keepAlive, and leaves at once on a clean close", async () => {
    const client = new DiscoveryClient(nodeConn);
    const nid = randomNid("sfu");
    const ka = client.keepAlive(info(nid, "rtc"));
    ok(await ka.ready, "registry accepted the save");
    await eventually(() => table.get(nid), 5000, "node in table");
    const n = table.get(nid)!;
    deepStrictEqual([n.service, n.dc, n.rpc.protocol, n.source], ["rtc", "dc1", "nats-grpc", "discovery"]);
    ok(table.nodes("rtc").some((x) => x.nid === nid));

    await ka.close();
    await eventually(() => !table.get(nid), 5000, "node gone after delete");
    ok(changes.some((c) => c.type === "down" && c.node.nid === nid && c.reason === "delete"));
    await ka.close(); // idempotent
  });

  it("keepalives refresh lastSeen and carry ExtraInfo changes (load) into the table", async () => {
    const client = new DiscoveryClient(nodeConn, { keepAliveMs: 200 });
    const nid = randomNid("room");
    const ka = client.keepAlive(info(nid, "room", { load: 1 }));
    await eventually(() => table.get(nid), 1000, "node in table");
    const first = table.get(nid)!.lastSeen;
    await eventually(() => table.get(nid)!.lastSeen > first, 2000, "lastSeen refreshed by an update");
    ka.setExtraInfo({ load: 42 });
    await eventually(() => table.get(nid)?.extraInfo.load === 42, 2000, "load updated");
    ok(changes.some((c) => c.type === "update" && c.node.nid === nid));
    await ka.close();
    await eventually(() => !table.get(nid), 5000, "gone");
  });

  it("get with params returns the registered nodes; get('*') returns every service", async () => {
    const client = new DiscoveryClient(nodeConn);
    const a = client.keepAlive(info(randomNid("sfu"), "rtc"));
    const b = client.keepAlive(info(randomNid("room"), "room", { region: "eu" }));
    await Promise.all([a.ready, b.ready]);
    const rtc = await client.get("rtc", { sid: "room1", uid: "u1" });
    deepStrictEqual(rtc.map((n) => n.nid), [a.node.NID]);
    const all = await client.get("*");
    deepStrictEqual(all.map((n) => n.nid).sort(), [a.node.NID, b.node.NID].sort());
    equal(all.find((n) => n.nid === b.node.NID)?.extraInfo.region, "eu");
    deepStrictEqual(await client.get("nothing-here"), []);

    // A watcher started now learns both from its initial get.
    const late = new NodeTable();
    const w = await syncDiscovery(gwConn, late);
    deepStrictEqual(late.nodes("*").map((n) => n.nid).sort(), [a.node.NID, b.node.NID].sort());
    await w.close();
    late.close();
    await Promise.all([a.close(), b.close()]);
  });

  it("a node killed without a delete disappears by the registry's expiry (5 s, checked each second)", async () => {
    const client = new DiscoveryClient(nodeConn);
    const nid = randomNid("sfu");
    const ka = client.keepAlive(info(nid, "rtc"));
    await eventually(() => table.get(nid), 5000, "node in table");
    ka.abandon(); // the keepalive timer stops; no delete is sent
    const t0 = Date.now();
    await eventually(() => !table.get(nid), 20_000, "node gone");
    // The bound (≤ 6 s: 5 s expiry + a 1 s check) comes from the mechanism, not the wall clock, which
    // a loaded CI machine stretches: the table heard the registry's delete, not its own 7 s expiry.
    ok(changes.some((c) => c.type === "down" && c.node.nid === nid && c.reason === "delete"), "removed by the registry's delete");
    console.log(`killed node left the table ${Date.now() - t0} ms after its last keepalive stopped`);
  });

  it("watch() reports up/keepalive/down and skips malformed messages (logged), never stopping", async () => {
    const log = recordingLog();
    const client = new DiscoveryClient(gwConn, { log });
    const events: WatchEvent[] = [];
    const w = client.watch("rtc", (e) => events.push(e), { observeKeepalives: false });
    await w.ready;
    const n = { DC: "dc1", Service: "rtc", NID: "sfu-raw001", RPC: { Protocol: "nats-grpc", Addr: "a", Params: null }, ExtraInfo: null };
    nodeConn.publish("node.discovery.rtc.dc1.sfu-raw001", Uint8Array.from([9, 9, 9]));
    nodeConn.publish("node.discovery.rtc.dc1.sfu-raw001", encodeRequest({ Action: "dance", Node: n }));
    nodeConn.publish("node.discovery.rtc.dc1.sfu-raw001", encodeRequest({ Action: "save", Node: n }));
    nodeConn.publish("node.discovery.rtc.dc1.sfu-raw001", encodeRequest({ Action: "update", Node: n }));
    nodeConn.publish("node.discovery.rtc.dc1.sfu-raw001", encodeRequest({ Action: "delete", Node: n }));
    nodeConn.publish("node.discovery.room.dc1.x", encodeRequest({ Action: "save", Node: { ...n, Service: "room" } }));
    await eventually(() => events.length === 3, 1000, "three events");
    deepStrictEqual(events.map((e) => `${e.state}:${e.node.nid}`), ["up:sfu-raw001", "keepalive:sfu-raw001", "down:sfu-raw001"]);
    ok(log.lines.some((l) => l.msg.includes("malformed")));
    ok(log.lines.some((l) => l.msg.includes("unknown action")));
    await w.close();
  });

  it("events arriving during the initial get are delivered after its results", async () => {
    // No registry for a moment: a slow fake answers the get after 1 s (a wide margin over the
    // 100 ms this test spends before checking that events are held).
    await registry.stop();
    const slowConn = await tcp(server, "slow-registry");
    const sub = slowConn.subscribe("node.publish.slow", {
      callback: (_e, m) => void setTimeout(() => m.respond(new Uint8Array(0)), 1000), // not gob: get fails, logged
    });
    await slowConn.flush();
    const log = recordingLog();
    const client = new DiscoveryClient(gwConn, { log, requestTimeoutMs: 5000 });
    const events: WatchEvent[] = [];
    const w = client.watch("slow", (e) => events.push(e));
    await sleep(50);
    const n = { DC: "dc1", Service: "slow", NID: "slow-1", RPC: { Protocol: "", Addr: "", Params: null }, ExtraInfo: null };
    nodeConn.publish("node.discovery.slow.dc1.slow-1", encodeRequest({ Action: "save", Node: n }));
    await nodeConn.flush();
    await sleep(50);
    equal(events.length, 0, "held while the get is pending");
    await w.ready;
    deepStrictEqual(events.map((e) => e.state), ["up"]);
    ok(log.lines.some((l) => l.msg.includes("initial get failed")));
    await w.close();
    sub.unsubscribe();
    await slowConn.close();
    registry = await startRegistry(regConn);
  });

  it("the table drops a node whose delete was missed and that sends no keepalives (own expiry)", async () => {
    const t = new NodeTable({ expireMs: 300, sweepMs: 50 });
    const noReg = await tcp(server, "gw2");
    const w = await syncDiscovery(noReg, t, { service: "ghost" });
    const n = { DC: "dc1", Service: "ghost", NID: "ghost-1", RPC: { Protocol: "", Addr: "", Params: null }, ExtraInfo: null };
    nodeConn.publish("node.discovery.ghost.dc1.ghost-1", encodeRequest({ Action: "save", Node: n }));
    await eventually(() => t.get("ghost-1"), 1000, "ghost up");
    await eventually(() => !t.get("ghost-1"), 2000, "ghost swept");
    await w.close();
    t.close();
    await noReg.close();
  });

  it("a node the table lost (a missed save, a stall) comes back with its next keepalive", async () => {
    const client = new DiscoveryClient(nodeConn, { keepAliveMs: 200 });
    const nid = randomNid("sfu");
    const ka = client.keepAlive(info(nid, "rtc"));
    await eventually(() => table.get(nid), 5000, "node in table");
    table.remove(nid, "expired"); // what the sweep did after a stall, before the fix never undone
    // The registry knows the node, so it forwards nothing: only the node's own update can bring it back.
    await eventually(() => table.get(nid), 2000, "node back within a few keepalive periods");
    await ka.close();
    await eventually(() => !table.get(nid), 5000, "gone");
  });

  it("resync() re-reads the registry: a node the table lost and that sends no keepalive is back", async () => {
    const t = new NodeTable();
    const w = await syncDiscovery(gwConn, t, { service: "quiet", resyncMs: 0 });
    const client = new DiscoveryClient(nodeConn, { keepAliveMs: 60_000 }); // the save only, no update for a minute
    const nid = randomNid("quiet");
    const ka = client.keepAlive(info(nid, "quiet"));
    await eventually(() => t.get(nid), 5000, "node in table");
    t.remove(nid, "expired");
    await w.resync("test");
    ok(t.get(nid), "back from the registry's answer");
    await ka.close();
    await w.close();
    t.close();
  });

  it("the registry re-reads by itself every resyncMs", async () => {
    const t = new NodeTable();
    const w = await syncDiscovery(gwConn, t, { service: "quiet2", resyncMs: 200 });
    const client = new DiscoveryClient(nodeConn, { keepAliveMs: 60_000 });
    const nid = randomNid("quiet");
    const ka = client.keepAlive(info(nid, "quiet2"));
    await eventually(() => t.get(nid), 5000, "node in table");
    t.remove(nid, "expired");
    await eventually(() => t.get(nid), 3000, "back after a periodic re-read");
    await ka.close();
    await w.close();
    t.close();
  });

  it("a stalled registry does not expire nodes whose keepalives are queued (no delete published)", async () => {
    const conn = await tcp(server, "stall-registry");
    const reg = await startRegistry(conn, { expireMs: 200, checkMs: 20 });
    const deletes: string[] = [];
    const sub = gwConn.subscribe("node.discovery.stall.>", { callback: (_e, m) => void (decodeRequest(m.data).Action === "delete" && deletes.push(m.subject)) });
    await gwConn.flush();
    const client = new DiscoveryClient(nodeConn, { keepAliveMs: 50 });
    const nid = randomNid("stall");
    const ka = client.keepAlive(info(nid, "stall"));
    await ka.ready;
    await eventually(() => reg.nodes().some((n) => n.nid === nid), 2000, "registered");
    const blockedUntil = Date.now() + 600; // 3× the registry's expiry without running
    while (Date.now() < blockedUntil) {
      // the stall
    }
    const first = reg.nodes().find((n) => n.nid === nid)!.lastSeen;
    await eventually(() => (reg.nodes().find((n) => n.nid === nid)?.lastSeen ?? 0) > first, 2000, "a keepalive after the stall refreshed it");
    await gwConn.flush();
    deepStrictEqual(deletes, [], "no expiry delete was published");
    ka.abandon();
    await eventually(() => deletes.length === 1, 3000, "expires normally once keepalives stop");
    sub.unsubscribe();
    await reg.stop();
    await conn.close();
  });

  it("keepAlive refuses nodes that cannot form a subject, and interface values Go cannot decode", () => {
    const client = new DiscoveryClient(nodeConn);
    for (const bad of [info("a.b", "rtc"), info("sfu-1", "r*c"), info("", "rtc"), { ...info("sfu-1", "rtc"), dc: "" }]) {
      throws(() => client.keepAlive(bad), /single NATS tokens/);
    }
    throws(() => client.keepAlive(info("sfu-1", "rtc", { nested: { a: 1 } })), /interface/);
  });

  it("get without any registry fails fast (no responders)", async () => {
    const client = new DiscoveryClient(nodeConn, { requestTimeoutMs: 2000 });
    await registry.stop();
    await rejects(client.get("rtc"));
    registry = await startRegistry(regConn);
  });
});
