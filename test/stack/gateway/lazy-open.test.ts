/**
 * Lazy open, as Go nats-grpc's NewStream (spec §1.5.1): the gateway picks a node and publishes the
 * nats-grpc Call only once a call's first request message is in (or the client half-closed without
 * one). A stream that is reset or cancelled before its first message never reaches NATS — watched
 * here by a raw NATS subscription on `nrpc.>` — on every streaming protocol, for a method the gateway
 * has no schema for (a bidi stream). Once the message comes, the node gets exactly the client's bytes.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { startStack, type Stack } from "../../helpers/gateway.js";
import { eventually } from "../../helpers/nats.js";
import { echoReq, echoRes, echoServiceIn } from "../../helpers/echo-schema.js";
import { NrpcSpy } from "../../helpers/nrpc-spy.js";
import { startProbe, type Probe } from "../../helpers/probe-backend.js";
import { envelope } from "../../helpers/grpc-web.js";
import { WsCall } from "../../helpers/grpc-websockets-client.js";

let stack: Stack;
let probe: Probe;
let spy: NrpcSpy;
const ControlService = echoServiceIn("control.v1");
const BIDI = "/probe.v1.EchoService/EchoBidi";
const CONTROL = ".control.v1.EchoService.Echo";

before(async () => {
  stack = await startStack({ nodes: 0, config: { edge: { routes: { "probe.v1": "probe", "control.v1": "probe" } } } });
  probe = await startProbe(stack.nats, { nid: "probe-lazy", service: "probe", packages: ["probe.v1", "control.v1"] });
  await stack.waitForNodes(1, "probe");
  spy = await NrpcSpy.start(stack.nats);
});
after(async () => {
  await spy?.close();
  await probe?.close();
  await stack?.stop();
});

let controlSeq = 0;
/** A call that reaches the probe: everything the gateway published before it is at the spy by then. */
const control = () => createClient(ControlService, createConnectTransport({ baseUrl: stack.url, httpVersion: "1.1" })).echo({ message: `control-${++controlSeq}` });
const inFlight = (n: number, what: string) => eventually(() => stack.gw.gateway.director.inFlight === n, 10_000, what);

/**
 * Opens a raw HTTP/2 stream to `BIDI` with request headers only (no DATA), waits until the gateway
 * holds it. `waitForTrailers` keeps Node's `close()` from sending END_STREAM before its RST_STREAM
 * (a half-close, which opens a call): the reset alone, as browsers send it.
 */
async function h2Open(session: http2.ClientHttp2Session, contentType: string): Promise<http2.ClientHttp2Stream> {
  const before = stack.gw.gateway.director.inFlight;
  const req = session.request({ ":method": "POST", ":path": BIDI, "content-type": contentType, te: "trailers" }, { endStream: false, waitForTrailers: true });
  req.on("wantTrailers", () => req.sendTrailers({}));
  req.on("error", () => {}); // the reset below
  await inFlight(before + 1, `${contentType} stream in flight`);
  return req;
}

test("streams reset or cancelled before their first message never reach NATS (grpc-websockets, gRPC, Connect over HTTP/2)", async () => {
  const mark = await spy.settle(control, CONTROL);
  const callsBefore = probe.calls.length;

  // grpc-websockets: the header frame, then the WebSocket closes.
  const ws = await new WsCall(stack.wsUrl + BIDI).start({});
  await inFlight(1, "websocket call in flight");
  ws.close();
  await ws.closed;
  await inFlight(0, "websocket call over");

  // Native gRPC and Connect streaming over HTTP/2: HEADERS, then RST_STREAM(CANCEL).
  const session = http2.connect(stack.url);
  session.on("error", () => {});
  try {
    for (const ct of ["application/grpc", "application/connect+proto"]) {
      const req = await h2Open(session, ct);
      req.close(http2.constants.NGHTTP2_CANCEL);
      await inFlight(0, `${ct} call over after RST_STREAM`);
    }
    // And a whole session going away with a stream waiting.
    await h2Open(session, "application/grpc");
  } finally {
    session.destroy();
  }
  await inFlight(0, "call over after the session closed");

  assert.deepEqual(await spy.between(mark, control, CONTROL), [], "nothing was published on nrpc.>");
  assert.deepEqual(probe.calls.slice(callsBefore).map((c) => c.method), ["Echo"], "only the control call reached the node");
});

test("a stream waits for its first message, then the node gets its messages in order", async () => {
  const mark = await spy.settle(control, CONTROL);
  const c = await new WsCall(stack.wsUrl + BIDI).start({});
  await inFlight(1, "websocket call in flight");
  // Still nothing on NATS while the stream waits (the control call goes out after our stream opened).
  assert.deepEqual(await spy.between(mark, control, CONTROL), []);
  const first = echoReq("first");
  c.send(first);
  const [reply] = await c.waitData(1);
  assert.equal(echoRes(reply!).message, "first");
  assert.equal(echoRes(reply!).node, probe.nid);
  c.send(echoReq("second"));
  await c.waitData(2);
  c.halfClose();
  const r = await c.result();
  assert.equal(r.code, 0);
  assert.equal(r.headers.get("x-edge-node"), probe.nid);
  const call = await probe.call("EchoBidi", "first");
  assert.deepEqual(call.requests, ["first", "second"]);
});

test("a stream that half-closes without a message is opened with its half-close (the node sees an empty request stream)", async () => {
  const c = await new WsCall(stack.wsUrl + "/probe.v1.EchoService/EchoClientStream").start({}, [], true);
  const r = await c.result();
  assert.equal(r.code, 0);
  assert.equal(r.data.length, 1);
  assert.equal(echoRes(r.data[0]!).message, "", "the client stream saw no message");
});

test("Connect streaming: the first message may come long after the headers; it reaches the node", async () => {
  const session = http2.connect(stack.url);
  session.on("error", () => {});
  try {
    const req = await h2Open(session, "application/connect+proto");
    const chunks: Buffer[] = [];
    req.on("data", (d: Buffer) => chunks.push(d));
    const ended = new Promise<void>((r) => req.on("end", () => r()));
    const msg = echoReq("late ✓ bytes", 0);
    req.end(envelope(msg));
    await ended;
    const call = await probe.call("EchoBidi", "late ✓ bytes");
    assert.deepEqual(call.requests, ["late ✓ bytes"]);
    assert.ok(Buffer.concat(chunks).length > 5, "a reply came");
  } finally {
    session.destroy();
  }
});
