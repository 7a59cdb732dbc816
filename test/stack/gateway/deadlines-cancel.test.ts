/**
 * Deadlines and cancellation through the running gateway, seen from both ends: the client gets
 * DEADLINE_EXCEEDED and the backend's call is aborted with DEADLINE_EXCEEDED (the End{status} reached
 * it); a client that goes away mid-call (aborted fetch, closed WebSocket, HTTP/2 RST_STREAM) cancels
 * the backend call, and the gateway's in-flight count returns to 0.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { startStack, type Stack } from "../../helpers/gateway.js";
import { eventually } from "../../helpers/nats.js";
import { within } from "../../helpers/wait.js";
import { abortCode, startProbe, type Probe } from "../../helpers/probe-backend.js";
import { echoReq, echoRes, echoServiceIn } from "../../helpers/echo-schema.js";
import { NrpcSpy } from "../../helpers/nrpc-spy.js";
import { b64, envelope, fromGrpcWebText, grpcWebResult } from "../../helpers/grpc-web.js";
import { WsCall } from "../../helpers/grpc-websockets-client.js";

let stack: Stack;
let probe: Probe;
let h2: Http2SessionManager;
const ProbeService = echoServiceIn("probe.v1");

before(async () => {
  stack = await startStack({ config: { edge: { routes: { "probe.v1": "probe" } } } });
  probe = await startProbe(stack.nats, { nid: "probe-deadline", service: "probe", packages: ["probe.v1"] });
  await stack.waitForNodes(1, "probe");
  h2 = new Http2SessionManager(stack.url);
});
after(async () => {
  h2?.abort();
  await probe?.close();
  await stack?.stop();
});

const ECHO = "/probe.v1.EchoService/Echo";
const STREAM = "/probe.v1.EchoService/EchoStream";

/** Waits until the backend call is aborted and the gateway holds no call; returns the abort code. */
async function backendAborted(method: string, message: string): Promise<Code | undefined> {
  const c = await probe.call(method, message);
  await eventually(() => c.signal.aborted && c.done, 10_000, `backend call ${message} aborted`);
  await eventually(() => stack.gw.gateway.director.inFlight === 0 && stack.gw.gateway.stats.inFlight === 0, 10_000, "in-flight 0");
  return abortCode(c.signal);
}

/** Reads from a body until `n` bytes are there. */
async function readAtLeast(reader: ReadableStreamDefaultReader<Uint8Array>, n: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let len = 0;
  while (len < n) {
    const { done, value } = await within(reader.read(), 10_000, `${n} bytes of the body (${len} so far)`);
    if (done) throw new Error(`body ended after ${len} bytes`);
    chunks.push(value);
    len += value.length;
  }
  return new Uint8Array(Buffer.concat(chunks));
}

test("deadline, Connect unary (Connect-Timeout-Ms): 504 deadline_exceeded, backend aborted DEADLINE_EXCEEDED", async () => {
  const res = await fetch(stack.url + ECHO, {
    method: "POST",
    headers: { "content-type": "application/proto", "connect-timeout-ms": "300" },
    body: echoReq("sleep:10001"),
  });
  assert.equal(res.status, 504);
  assert.equal(((await res.json()) as { code: string }).code, "deadline_exceeded");
  assert.equal(await backendAborted("Echo", "sleep:10001"), Code.DeadlineExceeded);
});

test("deadline, Connect streaming (Connect-Timeout-Ms): end-stream error, backend aborted DEADLINE_EXCEEDED", async () => {
  const res = await fetch(stack.url + STREAM, {
    method: "POST",
    headers: { "content-type": "application/connect+proto", "connect-timeout-ms": "300" },
    body: envelope(echoReq("sleep:10002")),
  });
  const body = new Uint8Array(await res.arrayBuffer());
  assert.equal(body[0], 0x02, "end-stream frame");
  const end = JSON.parse(new TextDecoder().decode(body.subarray(5))) as { error?: { code: string } };
  assert.equal(end.error?.code, "deadline_exceeded");
  assert.equal(await backendAborted("EchoStream", "sleep:10002"), Code.DeadlineExceeded);
});

test("deadline, gRPC-Web binary and text (grpc-timeout)", async () => {
  const bin = await fetch(stack.url + ECHO, {
    method: "POST",
    headers: { "content-type": "application/grpc-web+proto", "x-grpc-web": "1", "grpc-timeout": "300m" },
    body: envelope(echoReq("sleep:10003")),
  });
  assert.equal(grpcWebResult(bin.headers, new Uint8Array(await bin.arrayBuffer())).code, Code.DeadlineExceeded);
  assert.equal(await backendAborted("Echo", "sleep:10003"), Code.DeadlineExceeded);

  const text = await fetch(stack.url + STREAM, {
    method: "POST",
    headers: { "content-type": "application/grpc-web-text", "x-grpc-web": "1", "grpc-timeout": "300000u" },
    body: b64(envelope(echoReq("sleep:10004"))),
  });
  assert.equal(grpcWebResult(text.headers, fromGrpcWebText(await text.text())).code, Code.DeadlineExceeded);
  assert.equal(await backendAborted("EchoStream", "sleep:10004"), Code.DeadlineExceeded);
});

test("deadline, grpc-websockets (grpc-timeout in the header frame)", async () => {
  const c = new WsCall(stack.wsUrl + ECHO);
  await c.start({ "grpc-timeout": "300m" }, [echoReq("sleep:10005")], true);
  const r = await c.result();
  assert.equal(r.code, Code.DeadlineExceeded);
  assert.equal(r.close, 1000);
  assert.equal(await backendAborted("Echo", "sleep:10005"), Code.DeadlineExceeded);
});

test("deadline, native gRPC over h2c (grpc-timeout)", async () => {
  const client = createClient(ProbeService, createGrpcTransport({ baseUrl: stack.url, sessionManager: h2 }));
  // The header by hand, so that only the gateway's timer runs (the client's own would race it).
  await assert.rejects(client.echo({ message: "sleep:10006" }, { headers: { "grpc-timeout": "300m" } }), (e: unknown) => e instanceof ConnectError && e.code === Code.DeadlineExceeded);
  assert.equal(await backendAborted("Echo", "sleep:10006"), Code.DeadlineExceeded);
});

test("cancel: an aborted fetch mid-stream (Connect streaming) cancels the backend at once", async () => {
  const ac = new AbortController();
  const res = await fetch(stack.url + STREAM, {
    method: "POST",
    headers: { "content-type": "application/connect+proto" },
    body: envelope(echoReq("hang-connect")),
    signal: ac.signal,
  });
  assert.equal(res.status, 200);
  const first = await readAtLeast(res.body!.getReader(), 5);
  assert.equal(first[0], 0, "a message frame arrived");
  const c = await probe.call("EchoStream", "hang-connect");
  assert.equal(c.signal.aborted, false, "the backend is still streaming");
  ac.abort();
  assert.equal(await backendAborted("EchoStream", "hang-connect"), Code.Canceled);
});

test("cancel: an aborted fetch mid-stream (gRPC-Web) and before any response (Connect unary)", async () => {
  const ac = new AbortController();
  const res = await fetch(stack.url + STREAM, {
    method: "POST",
    headers: { "content-type": "application/grpc-web+proto", "x-grpc-web": "1" },
    body: envelope(echoReq("hang-grpcweb")),
    signal: ac.signal,
  });
  await readAtLeast(res.body!.getReader(), 5);
  ac.abort();
  assert.equal(await backendAborted("EchoStream", "hang-grpcweb"), Code.Canceled);

  const ac2 = new AbortController();
  const pending = fetch(stack.url + ECHO, { method: "POST", headers: { "content-type": "application/proto" }, body: echoReq("sleep:10007"), signal: ac2.signal });
  pending.catch(() => {});
  const c = await probe.call("Echo", "sleep:10007");
  assert.equal(c.signal.aborted, false);
  ac2.abort();
  await assert.rejects(pending);
  assert.equal(await backendAborted("Echo", "sleep:10007"), Code.Canceled);
});

test("cancel: closing the WebSocket mid-bidi cancels the backend at once", async () => {
  const c = await new WsCall(stack.wsUrl + "/probe.v1.EchoService/EchoBidi").start({});
  c.send(echoReq("ws-bidi-1"));
  assert.equal(echoRes((await c.waitData(1))[0]!).message, "ws-bidi-1");
  const backend = await probe.call("EchoBidi", "ws-bidi-1");
  assert.equal(backend.signal.aborted, false);
  c.close();
  assert.equal(await backendAborted("EchoBidi", "ws-bidi-1"), Code.Canceled);

  // A dropped TCP connection (no close handshake) too.
  const d = await new WsCall(stack.wsUrl + STREAM).start({}, [echoReq("hang-ws")], true);
  await d.waitData(1);
  d.ws.terminate();
  assert.equal(await backendAborted("EchoStream", "hang-ws"), Code.Canceled);
});

test("cancel: an HTTP/2 RST_STREAM (native gRPC client abort) cancels the backend at once", async () => {
  const client = createClient(ProbeService, createGrpcTransport({ baseUrl: stack.url, sessionManager: h2 }));
  const ac = new AbortController();
  const got: string[] = [];
  await assert.rejects(
    (async () => {
      for await (const r of client.echoStream({ message: "hang-grpc" }, { signal: ac.signal })) {
        got.push(r.message);
        ac.abort();
      }
    })(),
    (e: unknown) => e instanceof ConnectError && e.code === Code.Canceled,
  );
  assert.deepEqual(got, ["hang-grpc 0"]);
  assert.equal(await backendAborted("EchoStream", "hang-grpc"), Code.Canceled);
});

test("a single-request call (known schema) whose message never comes: DEADLINE_EXCEEDED, or CANCELLED on close, and nothing reaches NATS", async () => {
  const spy = await NrpcSpy.start(stack.nats);
  try {
    const mark = spy.mark(); // a fresh spy: nothing earlier can arrive late
    // The header frame only: no message, no half-close.
    const c = await new WsCall(stack.wsUrl + "/demo.v1.EchoService/Echo").start({ "grpc-timeout": "300m" });
    const r = await c.result();
    assert.equal(r.code, Code.DeadlineExceeded);
    const d = await new WsCall(stack.wsUrl + "/demo.v1.EchoService/EchoStream").start({});
    await eventually(() => stack.gw.gateway.director.inFlight === 1, 10_000, "call in flight");
    d.close();
    await d.closed;
    await eventually(() => stack.gw.gateway.director.inFlight === 0, 10_000, "in-flight 0");
    const control = () => createClient(ProbeService, createGrpcTransport({ baseUrl: stack.url, sessionManager: h2 })).echoClientStream((async function* () {
      yield { message: "control" };
    })());
    assert.deepEqual(await spy.between(mark, control, ".probe.v1.EchoService.EchoClientStream"), []);
  } finally {
    await spy.close();
  }
});
