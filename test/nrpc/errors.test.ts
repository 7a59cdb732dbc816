// Why an nrpc call ended, as a class (src/nrpc/errors.ts), against a real nats-server: each reason is
// produced where the nrpc client learns it and carried as the `cause` of the call's ConnectError, so
// the code that decides on it (the Director's retry, the balancer's outcome) never reads message text.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import type { NatsConnection } from "@nats-io/nats-core";
import { echoServiceImpl } from "../../src/demo/echo-service.js";
import { EchoService } from "../../src/gen/demo/v1/echo_pb.js";
import {
  MaxPayloadError,
  NatsUnavailableError,
  NeverReachedError,
  NodeDownError,
  NotServedError,
  NrpcClient,
  NrpcServer,
  StoppedAnsweringError,
  createServiceClient,
  isNeverReached,
  isNotServed,
  registerService,
  type ClientStream,
  type ServerCall,
} from "../../src/nrpc/index.js";
import { Outbox } from "../../src/nrpc/outbox.js";
import { eventually, natsServer, subsOf, tcp, type NatsServer } from "../helpers/nats.js";
import { registerProbe } from "../helpers/probe-service.js";

let server: NatsServer;
let nodeConn: NatsConnection;
let clientConn: NatsConnection;
let node: NrpcServer;
let client: NrpcClient;
const seen: ServerCall[] = [];

before(async () => {
  server = await natsServer();
  nodeConn = await tcp(server, "node");
  clientConn = await tcp(server, "gateway");
  node = new NrpcServer(nodeConn, { nid: "errors-node" });
  registerService(node, EchoService, echoServiceImpl(node.nid));
  registerProbe(node, seen);
  await nodeConn.flush();
  client = new NrpcClient(clientConn, { nid: "errors-gateway" });
});
after(async () => {
  client?.close();
  node?.close();
  await clientConn?.close();
  await nodeConn?.close();
  await server?.stop();
});

/** A call's end: its error (undefined = OK). */
interface Ended {
  stream: ClientStream;
  ended: Promise<ConnectError | undefined>;
}

/** Opens a call (with a deadline far beyond any answer here: no wait without one). */
function open(nid: string, service: string, method: string, opts: Parameters<NrpcClient["open"]>[3] = { timeoutMs: 30_000 }, c = client): Ended {
  let resolve!: (e: ConnectError | undefined) => void;
  const ended = new Promise<ConnectError | undefined>((r) => (resolve = r));
  const stream = c.open(nid, service, method, opts, { onMessage() {}, onEnd: (e) => resolve(e) });
  return { stream, ended };
}

test("a call to a node nobody subscribes for: NeverReachedError (retryable), UNAVAILABLE", async () => {
  const { stream, ended } = open("errors-ghost", "demo.v1.EchoService", "Echo");
  stream.send(new Uint8Array([10, 1, 120]));
  stream.closeSend();
  const err = await ended;
  assert.equal(err?.code, Code.Unavailable);
  assert.ok(err?.cause instanceof NeverReachedError, `cause: ${String(err?.cause)}`);
  assert.equal((err.cause as NeverReachedError).nid, "errors-ghost");
  assert.ok(!(err.cause instanceof NotServedError));
  assert.equal(isNeverReached(err), true);
  assert.equal(isNotServed(err), false);
});

test("a live node that does not serve the service: NotServedError, a kind of never reached, UNIMPLEMENTED", async () => {
  // The client learns that the node is alive from a call it answered (another service it serves).
  await createServiceClient(client, node.nid, EchoService).echo({ message: "hi" });
  const { stream, ended } = open(node.nid, "other.v1.Absent", "Call");
  stream.send(new Uint8Array());
  stream.closeSend();
  const err = await ended;
  assert.equal(err?.code, Code.Unimplemented);
  assert.ok(err?.cause instanceof NotServedError, `cause: ${String(err?.cause)}`);
  assert.equal((err.cause as NotServedError).service, "other.v1.Absent");
  assert.equal(isNotServed(err), true);
  assert.equal(isNeverReached(err), true, "a node that does not serve the service never had the call: another may");
});

test("a node that answered and then went away: StoppedAnsweringError, NOT never reached (the call may have run)", async () => {
  const conn = await tcp(server, "node-dies");
  const dying = new NrpcServer(conn, { nid: "errors-dying" });
  const dyingSeen: ServerCall[] = [];
  registerProbe(dying, dyingSeen);
  await conn.flush();
  let resolve!: (e: ConnectError | undefined) => void;
  const ended = new Promise<ConnectError | undefined>((r) => (resolve = r));
  let echoed = 0;
  const stream = client.open(dying.nid, "test.v1.Probe", "Raw", { timeoutMs: 30_000 }, { onMessage: () => echoed++, onEnd: (e) => resolve(e) });
  stream.send(new Uint8Array([1]));
  await eventually(() => echoed === 1, 5000, "the first message echoed");
  dying.close(true); // a crash: the caller hears nothing
  await conn.close();
  // Until the server has dropped its subscription, a message to it is delivered (and lost), not a 503.
  await eventually(async () => (await subsOf(server, "node-dies")) === 0, 5000, "the dead node's subscriptions gone");
  stream.send(new Uint8Array([2]));
  const err = await ended;
  assert.equal(err?.code, Code.Unavailable);
  assert.ok(err?.cause instanceof StoppedAnsweringError, `cause: ${String(err?.cause)}`);
  assert.equal(isNeverReached(err), false, "never retried: the node had the call");
});

test("closeStreams (discovery said the node went down): NodeDownError, UNAVAILABLE", async () => {
  const before = seen.length;
  const { ended } = open(node.nid, "test.v1.Probe", "Wait");
  await eventually(() => seen.length > before, 5000, "the node has the call");
  assert.equal(client.closeStreams(node.nid, `node ${node.nid} went down`), 1);
  const err = await ended;
  assert.equal(err?.code, Code.Unavailable);
  assert.ok(err?.cause instanceof NodeDownError, `cause: ${String(err?.cause)}`);
  assert.equal(err.rawMessage, `node ${node.nid} went down`);
  assert.equal(isNeverReached(err), false);
});

test("a call on a closed NATS connection: NatsUnavailableError, UNAVAILABLE", async () => {
  const conn = await tcp(server, "closed");
  const c = new NrpcClient(conn, { nid: "errors-closed" });
  await conn.close();
  const { ended } = open(node.nid, "demo.v1.EchoService", "Echo", {}, c);
  const err = await ended;
  assert.equal(err?.code, Code.Unavailable);
  assert.ok(err?.cause instanceof NatsUnavailableError, `cause: ${String(err?.cause)}`);
  assert.equal(isNeverReached(err), false, "not a node's absence: nothing was sent");
  c.close();
});

test("a request message over the server's max_payload: MaxPayloadError, RESOURCE_EXHAUSTED", async () => {
  const max = clientConn.info!.max_payload;
  const { stream, ended } = open(node.nid, "test.v1.Probe", "Raw");
  stream.send(new Uint8Array(max + 1));
  const err = await ended;
  assert.equal(err?.code, Code.ResourceExhausted);
  assert.ok(err?.cause instanceof MaxPayloadError, `cause: ${String(err?.cause)}`);
  assert.equal((err.cause as MaxPayloadError).maxPayload, max);
});

test("the outbox tells a payload nats.js refused for max_payload by class, whatever nats.js's wording", async () => {
  const conn = await tcp(server, "outbox");
  const outbox = new Outbox(conn);
  const got = new Promise<Error>((resolve) => outbox.publish("errors.outbox", new Uint8Array(outbox.maxPayload + 1), undefined, resolve));
  outbox.flush();
  const e = await got;
  assert.ok(e instanceof MaxPayloadError, `got ${e.name}: ${e.message}`);
  assert.equal(e.maxPayload, outbox.maxPayload);
  assert.ok(e.cause instanceof Error, "nats.js's own error is kept as the cause");
  await conn.close();
});
