// What the Director decides on why a call ended (src/nrpc/errors.ts), one test per reason: the retry on
// another node and the outcome the balancer's outlier detection counts. Real nats-server, real nrpc
// client and nodes; the node list and the balancer are small fakes that record what the Director did.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Code, type ConnectError } from "@connectrpc/connect";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Call, CallResponder } from "../../src/core/call.js";
import type { NodeInfo } from "../../src/core/node-info.js";
import { echoServiceImpl } from "../../src/demo/echo-service.js";
import { createDirector, createRouteTable, type Director } from "../../src/director/index.js";
import type { CallOutcome, DirectorBalancer } from "../../src/director/types.js";
import { EchoService } from "../../src/gen/demo/v1/echo_pb.js";
import { NrpcClient, NrpcServer, rawCall, registerService, type ServerCall } from "../../src/nrpc/index.js";
import { eventually, natsServer, subsOf, tcp, type NatsServer } from "../helpers/nats.js";
import { registerProbe } from "../helpers/probe-service.js";
import { pushable } from "../helpers/streams.js";
import { within } from "../helpers/wait.js";

let server: NatsServer;
let gwConn: NatsConnection;
let client: NrpcClient;
const conns: NatsConnection[] = [];
const servers: NrpcServer[] = [];
/** Calls each node served, by nid. */
const served = new Map<string, ServerCall[]>();

/** Starts a node serving test.v1.Probe, and demo.v1.EchoService too when `echo`. */
async function startNode(nid: string, echo: boolean): Promise<{ srv: NrpcServer; conn: NatsConnection }> {
  const conn = await tcp(server, nid);
  const srv = new NrpcServer(conn, { nid });
  const seen: ServerCall[] = [];
  served.set(nid, seen);
  registerProbe(srv, seen);
  if (echo) registerService(srv, EchoService, echoServiceImpl(nid));
  await conn.flush();
  conns.push(conn);
  servers.push(srv);
  return { srv, conn };
}

before(async () => {
  server = await natsServer();
  gwConn = await tcp(server, "gateway");
  client = new NrpcClient(gwConn, { nid: "reasons-gateway" });
  await startNode("live", true);
  await startNode("other", false); // alive, serves test.v1.Probe only
});
after(async () => {
  client?.close();
  for (const s of servers) s.close(true);
  for (const c of [...conns, gwConn]) await c?.close();
  await server?.stop();
});

function nodeInfo(nid: string, service: string): NodeInfo {
  return { nid, service, dc: "", rpc: { protocol: "nats-grpc", addr: "", params: {} }, extraInfo: {}, source: "discovery", lastSeen: Date.now() };
}

/** A balancer that picks the first node not excluded, in list order, and records every outcome. */
function recordingBalancer(): DirectorBalancer & { outcomes: [string, CallOutcome][]; picks: string[] } {
  const outcomes: [string, CallOutcome][] = [];
  const picks: string[] = [];
  return {
    outcomes,
    picks,
    pick: (_s, list, ctx) => {
      const n = list.find((x) => !ctx.exclude?.has(x.nid));
      if (n) picks.push(n.nid);
      return n;
    },
    onCallStart() {},
    onCallEnd: (nid, outcome) => void outcomes.push([nid, outcome]),
  };
}

function director(nids: string[], balancer: DirectorBalancer): Director {
  return createDirector({
    client,
    routes: createRouteTable([], { "test.v1": "test", "demo.v1": "demo" }),
    nodes: { nodes: (service) => nids.map((nid) => nodeInfo(nid, service)) },
    balancer,
    retryUnreached: true,
  });
}

/** Runs one call through the Director; resolves with its status and the messages answered. */
function run(d: Director, path: string, reqs: AsyncIterable<Uint8Array>, timeoutMs?: number) {
  const messages: Uint8Array[] = [];
  let resolve!: (e: ConnectError | undefined) => void;
  const ended = new Promise<ConnectError | undefined>((r) => (resolve = r));
  const call: Call = {
    path,
    protocol: "grpc",
    shape: "unknown",
    metadata: new Map(),
    signal: new AbortController().signal,
    timeoutMs,
    requests: reqs,
    remote: {},
  };
  const responder: CallResponder = { header() {}, message: (m) => void messages.push(m), end: (e) => resolve(e) };
  const done = d.handle(call, responder);
  return { ended: within(ended, 30_000, `the end of ${path}`), messages, done };
}

test("never reached a node (no responders): retried on another node, counted no_responders against the first", async () => {
  const b = recordingBalancer();
  const d = director(["ghost", "live"], b);
  const r = pushable<Uint8Array>();
  const c = run(d, "/test.v1.Probe/Raw", r.iterable);
  r.push(new Uint8Array([7]));
  r.end();
  assert.equal(await c.ended, undefined);
  assert.deepEqual(c.messages.map((m) => [...m]), [[7]]);
  assert.deepEqual(b.picks, ["ghost", "live"]);
  assert.deepEqual(b.outcomes, [["ghost", "no_responders"], ["live", "ok"]]);
});

test("a live node that does not serve the service: retried elsewhere, and no mark against it (ok)", async () => {
  // The nrpc client knows `other` is alive from a call it answered.
  for await (const _ of rawCall(client, "other", "test.v1.Probe", "Raw", [new Uint8Array([1])]));
  const b = recordingBalancer();
  const d = director(["other", "live"], b);
  const r = pushable<Uint8Array>();
  const c = run(d, "/demo.v1.EchoService/Echo", r.iterable);
  r.push(new Uint8Array([10, 2, 104, 105])); // EchoRequest{message: "hi"}
  r.end();
  assert.equal(await c.ended, undefined);
  assert.equal(c.messages.length, 1);
  assert.deepEqual(b.picks, ["other", "live"]);
  assert.deepEqual(b.outcomes, [["other", "ok"], ["live", "ok"]]);
});

test("a node that stopped answering mid call: never retried (it had the call), counted an error", async () => {
  const dying = await startNode("dying", false);
  const b = recordingBalancer();
  const d = director(["dying", "live"], b);
  const liveBefore = served.get("live")!.length;
  const r = pushable<Uint8Array>();
  const c = run(d, "/test.v1.Probe/Raw", r.iterable, 30_000);
  r.push(new Uint8Array([1]));
  await eventually(() => c.messages.length === 1, 5000, "the first message echoed by the dying node");
  dying.srv.close(true); // a crash: the gateway hears nothing
  await dying.conn.close();
  // Until the server has dropped its subscription, a message to it is delivered (and lost), not a 503.
  await eventually(async () => (await subsOf(server, "dying")) === 0, 5000, "the dead node's subscriptions gone");
  r.push(new Uint8Array([2]));
  const err = await c.ended;
  assert.equal(err?.code, Code.Unavailable);
  assert.deepEqual(b.picks, ["dying"]);
  assert.deepEqual(b.outcomes, [["dying", "error"]]);
  assert.equal(served.get("live")!.length, liveBefore, "the call was not run again on another node");
  r.end();
});

test("a deadline before the node answered anything: counted a timeout against it, not retried", async () => {
  const b = recordingBalancer();
  const d = director(["live", "other"], b);
  const r = pushable<Uint8Array>();
  const c = run(d, "/test.v1.Probe/Wait", r.iterable, 300);
  r.push(new Uint8Array());
  r.end();
  const err = await c.ended;
  assert.equal(err?.code, Code.DeadlineExceeded);
  assert.deepEqual(b.picks, ["live"]);
  assert.deepEqual(b.outcomes, [["live", "timeout"]]);
});

test("the node went down (discovery): its call ends UNAVAILABLE at once, not retried, counted an error", async () => {
  const b = recordingBalancer();
  const d = director(["live", "other"], b);
  const seen = served.get("live")!;
  const before = seen.length;
  const r = pushable<Uint8Array>();
  const c = run(d, "/test.v1.Probe/Wait", r.iterable, 30_000);
  r.push(new Uint8Array());
  r.end();
  await eventually(() => seen.length > before, 5000, "the node has the call");
  d.nodeDown("live");
  const err = await c.ended;
  assert.equal(err?.code, Code.Unavailable);
  assert.equal(err?.rawMessage, "node live went down");
  assert.deepEqual(b.picks, ["live"]);
  assert.deepEqual(b.outcomes, [["live", "error"]]);
  await c.done;
});
