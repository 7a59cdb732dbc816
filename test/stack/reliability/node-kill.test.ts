/**
 * Fault: a backend node dies mid-stream. Node A (a demo node on its own NATS connection) stops its
 * keepalives silently (`kill()`, no discovery delete), then its NATS connection closes — nothing on
 * the wire tells the gateway. Its streams through the gateway, on every streaming protocol, must end
 * with UNAVAILABLE once discovery expires it (registry 5 s + one sweep), streams on node B go on, and
 * new calls (also ones still pinned to A) go to B. A message sent on a dead stream fails it at once
 * (NATS "no responders"), and no call A had received is run again on B.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { EchoService } from "../../../src/gen/demo/v1/echo_pb.js";
import { startStack, type Stack } from "../../helpers/gateway.js";
import { eventually } from "../../helpers/nats.js";
import { echoReq, echoRes } from "../../helpers/echo-schema.js";
import { envelope, grpcWebResult } from "../../helpers/grpc-web.js";
import { WsCall } from "../../helpers/grpc-websockets-client.js";
import { pushable } from "../../helpers/streams.js";
import { assertNoLeaks, baseline, type Baseline } from "./leak-check.js";
import { summary } from "../../helpers/soak.js";
import { within } from "../../helpers/wait.js";

let stack: Stack;
let base: Baseline;
let h2: Http2SessionManager;

before(async () => {
  stack = await startStack({ nodes: 2 });
  h2 = new Http2SessionManager(stack.url);
  const warm = await createClient(EchoService, createConnectTransport({ baseUrl: stack.url, httpVersion: "1.1" })).echo({ message: "warm" });
  assert.equal(warm.message, "warm");
  base = await baseline(stack);
});
after(async () => {
  h2?.abort();
  await stack?.stop();
});

const OK = 0 as Code;
const counts = { streamsOnDeadNode: 0, streamsOnLiveNode: 0, newCallsAfterKill: 0 };

/** One open stream through the gateway: `ended` resolves with its final code. */
interface Open {
  name: string;
  ended: Promise<Code>;
  /** Sends one more message and waits for its echo (live streams). */
  ping?: (m: string) => Promise<string>;
  /** Half-closes (live streams). */
  finish?: () => void;
}

/** A grpc-websockets bidi stream pinned to `nid`, with one round trip done. */
async function wsBidi(nid: string, name: string): Promise<Open & { call: WsCall }> {
  const call = await new WsCall(stack.wsUrl + "/demo.v1.EchoService/EchoBidi").start({ "x-edge-node": nid });
  call.send(echoReq(`${name}-0`));
  const first = echoRes((await call.waitData(1))[0]!);
  assert.equal(first.node, nid, `${name} is served by the pinned node`);
  let n = 1;
  return {
    name,
    call,
    ended: call.result().then((r) => r.code),
    ping: async (m) => {
      call.send(echoReq(m));
      return echoRes((await call.waitData(++n))[n - 1]!).message;
    },
    finish: () => call.halfClose(),
  };
}

/** A connect-node bidi stream (Connect or gRPC over h2c) pinned to `nid`, with one round trip done. */
async function h2Bidi(kind: "connect" | "grpc", nid: string, name: string): Promise<Open> {
  const transport = kind === "grpc" ? createGrpcTransport({ baseUrl: stack.url, sessionManager: h2 }) : createConnectTransport({ baseUrl: stack.url, httpVersion: "2", sessionManager: h2 });
  const input = pushable<{ message: string }>();
  const it = createClient(EchoService, transport).echoBidi(input.iterable, { headers: { "x-edge-node": nid } })[Symbol.asyncIterator]();
  input.push({ message: `${name}-0` });
  const first = await it.next();
  assert.equal(first.done, false);
  assert.equal(first.value.node, nid, `${name} is served by the pinned node`);
  let pending: Promise<IteratorResult<{ message: string }>> | undefined;
  const ended = (async (): Promise<Code> => {
    try {
      for (;;) {
        pending = it.next();
        const r = await pending;
        if (r.done) return OK; // OK
      }
    } catch (e) {
      return e instanceof ConnectError ? e.code : Code.Unknown;
    }
  })();
  return { name, ended, finish: () => input.end() };
}

/** A call that waits on the backend (`sleep:`), over fetch; resolves with its code. */
function sleeping(kind: "connect-unary" | "grpc-web", nid: string): Open {
  const path = stack.url + (kind === "connect-unary" ? "/demo.v1.EchoService/Echo" : "/demo.v1.EchoService/EchoStream");
  const ended = (async (): Promise<Code> => {
    if (kind === "connect-unary") {
      const r = await fetch(path, { method: "POST", headers: { "content-type": "application/proto", "x-edge-node": nid }, body: echoReq("sleep:60000") });
      const body = await r.arrayBuffer();
      if (r.status === 200) return OK;
      const j = JSON.parse(new TextDecoder().decode(body)) as { code: string };
      return Code[j.code.replace(/(^|_)(\w)/g, (_m, _u, c: string) => c.toUpperCase()) as keyof typeof Code];
    }
    const r = await fetch(path, { method: "POST", headers: { "content-type": "application/grpc-web+proto", "x-grpc-web": "1", "x-edge-node": nid }, body: envelope(echoReq("sleep:60000")) });
    return grpcWebResult(r.headers, new Uint8Array(await r.arrayBuffer())).code;
  })();
  return { name: kind, ended };
}

test("a node killed mid-stream: its streams end UNAVAILABLE after discovery expiry, node B's go on, new calls go to B", { timeout: 90_000 }, async () => {
  const [a, b] = [stack.nodes[0]!, stack.nodes[1]!];
  const A = a.node.nid;
  const B = b.node.nid;

  // Streams on A, on every streaming protocol, plus calls waiting inside A.
  const onA: Open[] = [
    await wsBidi(A, "ws-a1"),
    await wsBidi(A, "ws-a2"),
    await h2Bidi("connect", A, "connect-h2-a"),
    await h2Bidi("grpc", A, "grpc-a"),
    sleeping("connect-unary", A),
    sleeping("grpc-web", A),
  ];
  const noResponders = await wsBidi(A, "ws-a-noresp");
  // Streams on B that must survive.
  const onB = [await wsBidi(B, "ws-b1"), await wsBidi(B, "ws-b2")];
  await eventually(() => a.node.server.streamCount === onA.length + 1, 10_000, "calls open on A");
  counts.streamsOnDeadNode = onA.length + 1;
  counts.streamsOnLiveNode = onB.length;

  // A dies: no discovery delete, no End to anyone; then its connection goes.
  const t0 = Date.now();
  a.node.kill();
  await a.nc.close();

  // A message on a dead stream: nobody subscribes the subject any more → UNAVAILABLE at once.
  noResponders.call.send(echoReq("after-death"));
  assert.equal(await noResponders.ended, Code.Unavailable, "a message to the dead node fails the stream (no responders)");

  // New calls right away, even pinned to A, are served by B (no responders → retried elsewhere).
  const connect = createClient(EchoService, createConnectTransport({ baseUrl: stack.url, httpVersion: "1.1" }));
  for (let i = 0; i < 10; i++) {
    const r = await connect.echo({ message: `new-${i}` }, { headers: i % 2 ? { "x-edge-node": A } : {} });
    assert.equal(r.node, B, `new call ${i} is served by B`);
    counts.newCallsAfterKill++;
  }

  // A's other streams end UNAVAILABLE once discovery forgets A (bounded wait: registry 5 s + table 7 s).
  const codes = await within(Promise.all(onA.map(async (o) => [o.name, await o.ended] as const)), 20_000, "streams on the dead node ended");
  const elapsed = Date.now() - t0;
  for (const [name, code] of codes) assert.equal(code, Code.Unavailable, `${name} ended UNAVAILABLE`);
  // At most once: a call A had (its request delivered) is never run again on B — not even when a
  // later envelope of it (the unary half-close, held back 1 s) meets "no responders".
  assert.equal(b.node.server.streamCount, onB.length, "B serves only its own streams: nothing of A's was retried there");
  assert.deepEqual(stack.gw.gateway.table.nodes("demo").map((n) => n.nid), [B], "A left the node table");

  // B's streams were never touched.
  for (const [i, o] of onB.entries()) assert.equal(await o.ping!(`b-still-${i}`), `b-still-${i}`);
  for (const o of onB) o.finish!();
  for (const o of onB) assert.equal(await o.ended, OK, `${o.name} ends OK`);

  // After expiry too: a call pinned to the dead node goes to B.
  for (let i = 0; i < 5; i++) {
    assert.equal((await connect.echo({ message: `later-${i}` }, { headers: { "x-edge-node": A } })).node, B);
    counts.newCallsAfterKill++;
  }
  await eventually(() => b.node.server.streamCount === 0, 10_000, "no stream left on B");
  summary("node-kill", { ...counts, deadStreamsEndedAfterMs: elapsed });
});

test("no leaks after the node-kill suite", async () => {
  await assertNoLeaks(stack, base);
});
