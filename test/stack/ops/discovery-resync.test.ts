/**
 * Issue 16 row 2, the NATS reconnect trigger: registry events published while the gateway's NATS
 * connection was away are lost for good (registries forward a save once), so the gateway re-reads
 * the registry when its connection comes back. A node that sends no keepalive for a minute and that
 * the gateway's table lost is back right after a forced reconnect (`edge.discovery.resync_s = 0`: no
 * periodic re-read to hide behind). Real nats-server, registry and gateway (createGateway).
 */
import { ok } from "node:assert/strict";
import { after, before, test } from "node:test";
import type { NatsConnection } from "@nats-io/nats-core";
import { resolveConfig } from "../../../src/config/index.js";
import { DiscoveryClient, randomNid, startRegistry, type Registry } from "../../../src/discovery/index.js";
import { createGateway, type Gateway } from "../../../src/gateway.js";
import { connectNats } from "../../../src/runtime/node/nats-connect.js";
import { eventually, natsServer, type NatsServer } from "../../helpers/nats.js";

let nats: NatsServer;
let regConn: NatsConnection;
let nodeConn: NatsConnection;
let gwConn: NatsConnection;
let registry: Registry;
let gateway: Gateway;

before(async () => {
  nats = await natsServer();
  regConn = await connectNats(nats.url, { name: "registry" });
  nodeConn = await connectNats(nats.url, { name: "node" });
  gwConn = await connectNats(nats.url, { name: "gateway" }); // reconnects (the gateway's defaults)
  registry = await startRegistry(regConn);
  gateway = await createGateway({ config: resolveConfig({ edge: { discovery: { resync_s: 0, micro: false } } }), nc: gwConn });
});
after(async () => {
  await gateway?.close(100);
  await registry?.stop();
  for (const c of [gwConn, nodeConn, regConn]) await c?.close();
  await nats?.stop();
});

test("after a NATS reconnect the gateway re-reads the registry: a lost node that sends no keepalive is back", async () => {
  const nid = randomNid("quiet");
  const ka = new DiscoveryClient(nodeConn, { keepAliveMs: 60_000 }).keepAlive({ nid, service: "demo", dc: "dc1", rpc: { protocol: "nats-grpc", addr: "", params: {} }, extraInfo: {}, source: "discovery", lastSeen: Date.now() });
  ok(await ka.ready);
  await eventually(() => gateway.table.get(nid), 5000, "node in the gateway's table");
  gateway.table.remove(nid, "expired"); // an event lost while away
  await gwConn.reconnect();
  await eventually(() => gateway.table.get(nid), 5000, "node back after the reconnect");
  await ka.close();
});
