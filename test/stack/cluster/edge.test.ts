// The edge topology of deploy/, running: a 3-server hub cluster with JetStream (registry and demo nodes
// on it), a regional leaf with a gateway over NATS TCP, an edge leaf with a gateway over NATS
// WebSocket — every server and gateway started from its deploy/ config. Calls of every protocol cross
// leaf and route hops both ways; one room is placed on one node through both gateways (200 concurrent
// joins), in the hub's R3 bucket; a gateway on a leaf with its own JetStream domain and no `domain`
// setting keeps a bucket of its own (why deploy/ names the hub's domain).
import assert from "node:assert/strict";
import { readFile, writeFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { jetstream } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { placementKey } from "../../../src/balancer/placement-key.js";
import { EchoRequestSchema, EchoResponseSchema, EchoService } from "../../../src/gen/demo/v1/echo_pb.js";
import { connectNats } from "../../../src/runtime/node/nats-connect.js";
import { WsCall } from "../../helpers/grpc-websockets-client.js";
import { eventually } from "../../helpers/nats.js";
import { deployDir, joinRoom, startGateway, startHubServices, startServers, type GatewayProcess, type HubServices, type Servers } from "./topology.js";

let servers: Servers;
let hub: HubServices;
let region: GatewayProcess;
let edge: GatewayProcess;
let sessions: Http2SessionManager[] = [];
let hubNc: NatsConnection;
let hubBucket: KV;
/** Rooms placed through both gateways → their node (the sticky test). */
const placed = new Map<string, string>();

before(async () => {
  const t0 = Date.now();
  servers = await startServers();
  hub = await startHubServices(servers, 3);
  [region, edge] = await Promise.all([startGateway("gateway-region.toml", servers.leaf.url), startGateway("gateway-edge-ws.toml", servers.edge.wsUrl)]);
  await eventually(async () => (await region.nodes()) === 3 && (await edge.nodes()) === 3, 15_000, "both gateways see the 3 demo nodes");
  hubNc = await connectNats(servers.hubUrls, { name: "cluster-test-kv" });
  hubBucket = await new Kvm(jetstream(hubNc)).open("edge_signal_placement");
  console.log(`topology up in ${Date.now() - t0} ms (3 hub servers, 2 leaves, registry, 3 nodes, 2 gateway processes)`);
});
after(async () => {
  for (const s of sessions) s.abort();
  await hubNc?.close();
  await Promise.all([region?.stop(), edge?.stop()]);
  await hub?.stop();
  await servers?.stop();
});

const nids = () => hub.nodes.map((n) => n.node.nid);

/** Every client transport the gateway serves, for one gateway. */
function transports(url: string): Record<string, Transport> {
  const h2 = new Http2SessionManager(url);
  sessions.push(h2);
  return {
    "Connect HTTP/1.1": createConnectTransport({ baseUrl: url, httpVersion: "1.1" }),
    "Connect JSON HTTP/1.1": createConnectTransport({ baseUrl: url, httpVersion: "1.1", useBinaryFormat: false }),
    "Connect h2c": createConnectTransport({ baseUrl: url, httpVersion: "2", sessionManager: h2 }),
    "gRPC-Web HTTP/1.1": createGrpcWebTransport({ baseUrl: url, httpVersion: "1.1" }),
    "gRPC h2c": createGrpcTransport({ baseUrl: url, sessionManager: h2 }),
  };
}

async function* messages(...ms: string[]) {
  for (const message of ms) yield { message };
}

describe("calls of every protocol through both gateways, replies back across leaf and route hops", () => {
  for (const [name, gwOf] of [
    ["region (NATS TCP, leaf)", () => region],
    ["edge (NATS WebSocket, leaf with JetStream domain)", () => edge],
  ] as const) {
    test(name, async () => {
      const gw = gwOf();
      const served = new Set<string>();
      for (const [tname, t] of Object.entries(transports(gw.url))) {
        const c = createClient(EchoService, t);
        const r = await c.echo({ message: `unary ${tname}` });
        assert.equal(r.message, `unary ${tname}`, tname);
        assert.ok(nids().includes(r.node), `${tname}: served by a hub node (${r.node})`);
        served.add(r.node);
        const got: string[] = [];
        for await (const m of c.echoStream({ message: "s", repeat: 5 })) got.push(m.message);
        assert.deepEqual(got, ["s 0", "s 1", "s 2", "s 3", "s 4"], `${tname}: server streaming`);
        if (tname.endsWith("h2c")) {
          const cs = await c.echoClientStream(messages("a", "b", "c"));
          assert.equal(cs.message, "a b c", `${tname}: client streaming`);
          const bidi: string[] = [];
          for await (const m of c.echoBidi(messages("x", "y"))) bidi.push(m.message);
          assert.deepEqual(bidi, ["x", "y"], `${tname}: bidi`);
        }
      }
      // grpc-websockets (ion-sdk-js): full-duplex bidi, one reply per message, then OK.
      const ws = await new WsCall(`${gw.url.replace(/^http/, "ws")}/demo.v1.EchoService/EchoBidi`).start();
      for (const m of ["one", "two"]) {
        ws.send(toBinary(EchoRequestSchema, create(EchoRequestSchema, { message: m })));
        assert.equal(fromBinary(EchoResponseSchema, await ws.nextMessage()).message, m, "grpc-websockets reply");
      }
      ws.halfClose();
      const done = await ws.result();
      assert.equal(done.code, 0, `grpc-websockets status ${done.code} ${done.message}`);
      // A 2 MiB message each way: deploy/'s max_payload (8 MiB) holds the gateway's 4 MiB on every hop.
      const big = "b".repeat(2 << 20);
      const r = await createClient(EchoService, createConnectTransport({ baseUrl: gw.url, httpVersion: "1.1" })).echo({ message: big });
      assert.equal(r.message.length, big.length, "2 MiB echoed");
      console.log(`${name}: served by ${[...served].join(", ")}`);
    });
  }
});

test("one room on one node through both gateways: 200 concurrent joins split over the two, placed in the hub's R3 bucket", async () => {
  const status = await hubBucket.status();
  assert.equal(status.replicas, 3, "the gateways created the placement bucket with 3 replicas (deploy/ gateway configs)");
  const rooms = Array.from({ length: 12 }, (_, i) => `cluster-room-${i}-${Date.now()}`);
  for (const room of rooms) {
    const joins = await Promise.all(Array.from({ length: 200 }, (_, i) => joinRoom((i % 2 ? edge : region).url, room)));
    const errors = joins.filter((j) => j.code);
    assert.deepEqual(errors, [], `${room}: every join served`);
    const nodes = new Set(joins.map((j) => j.node));
    assert.equal(nodes.size, 1, `${room}: one node through both gateways, got ${[...nodes].join(", ")}`);
    const nid = joins[0]!.node!;
    const entry = await hubBucket.get(placementKey("demo", room));
    assert.ok(entry, `${room}: placed in the hub's bucket`);
    assert.equal(JSON.parse(entry.string()).nid, nid, `${room}: the bucket names the serving node`);
    placed.set(room, nid);
  }
  assert.ok(new Set(placed.values()).size >= 2, `rooms spread over the nodes: ${JSON.stringify([...placed])}`);
});

test("a gateway on the edge leaf without `domain = \"hub\"` does not share the hub's bucket: rooms land on other nodes", async () => {
  assert.ok(placed.size > 0, "the rooms of the test before");
  // The same config as deploy/gateway-edge-ws.toml minus its domain line.
  const dir = await mkdtemp(join(tmpdir(), "edge-signal-cluster-"));
  const conf = join(dir, "no-domain.toml");
  const text = await readFile(join(deployDir, "gateway-edge-ws.toml"), "utf8");
  assert.match(text, /^domain = "hub"$/m);
  await writeFile(conf, text.replace(/^domain = "hub"$/m, ""));
  const lone = await startGateway(conf, servers.edge.wsUrl);
  try {
    await eventually(async () => (await lone.nodes()) === 3, 15_000, "the lone gateway sees the 3 nodes");
    // Its connection's JetStream is the edge leaf's (domain `edge`, one server): the R3 bucket cannot
    // be made there, so it places by rendezvous hashing — not where the hub's bucket says.
    assert.match(lone.output(), /replicas > 1 not supported in non-clustered mode/);
    const room = `lone-room-${Date.now()}`;
    assert.ok((await joinRoom(lone.url, room)).node);
    assert.equal(await hubBucket.get(placementKey("demo", room)), null, "its new room is not in the hub's bucket");
    let split = 0;
    for (const [r, nid] of placed) if ((await joinRoom(lone.url, r)).node !== nid) split++;
    console.log(`without domain = "hub": ${split} of ${placed.size} rooms on another node than the hub's bucket says`);
    assert.ok(split > 0, "some room is served by two nodes (1 in 3^12 chance of none by luck)");
  } finally {
    await lone.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
