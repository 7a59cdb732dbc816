/**
 * The running gateway with a `ws` client speaking improbable's grpc-websockets byte by byte (what
 * ion-sdk-js sends): subprotocol echoed, the response header frame as its own WebSocket message, data
 * frames, the 0x01 half-close, trailers then close 1000 — for all four call kinds, errors, metadata.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Code } from "@connectrpc/connect";
import { startStack, type Stack } from "../../helpers/gateway.js";
import { echoReq, echoRes } from "../../helpers/echo-schema.js";
import { startProbe, type Probe } from "../../helpers/probe-backend.js";
import { WsCall, wsCall } from "../../helpers/grpc-websockets-client.js";

let stack: Stack;
let probe: Probe;

before(async () => {
  stack = await startStack({ config: { edge: { routes: { "probe.v1": "probe" } } } });
  probe = await startProbe(stack.nats, { nid: "probe-ws", service: "probe", packages: ["probe.v1"] });
  await stack.waitForNodes(1, "probe");
});
after(async () => {
  await probe?.close();
  await stack?.stop();
});

const demoNids = () => stack.nodes.map((n) => n.node.nid);

test("unary: subprotocol echoed, header frame alone in its message, data, trailers, close 1000", async () => {
  const c = new WsCall(stack.wsUrl + "/demo.v1.EchoService/Echo");
  await c.start({ "x-test": "1" }, [echoReq("header:x-a=b")], true);
  assert.equal(c.ws.protocol, "grpc-websockets");
  const r = await c.result();
  assert.equal(r.code, 0);
  assert.equal(r.close, 1000);
  assert.ok(r.trailersLast, "trailers come before the close");
  assert.equal(c.messages[0]!.length, 1, "the response header frame travels alone");
  assert.equal(c.messages[0]![0]!.kind, "header");
  assert.equal(c.headerEndedMessage, true);
  assert.equal(r.data.length, 1);
  const res = echoRes(r.data[0]!);
  assert.equal(res.message, "header:x-a=b");
  assert.ok(demoNids().includes(res.node));
  assert.equal(r.headers.get("x-edge-node"), res.node);
  assert.equal(r.headers.get("x-a"), "b");
  assert.equal(r.trailers.get("x-a-trailer"), "b");
});

test("server streaming", async () => {
  const r = await wsCall(stack.wsUrl, "/probe.v1.EchoService/EchoStream", {}, [echoReq("w", 50)]);
  assert.equal(r.code, 0);
  assert.deepEqual(r.data.map((d) => echoRes(d).message), Array.from({ length: 50 }, (_, i) => `w ${i}`));
  assert.equal(r.headers.get("x-edge-node"), probe.nid);
  assert.equal(r.headers.get("x-probe"), probe.nid);
  assert.equal(r.trailers.get("x-probe-trailer"), probe.nid);
  assert.equal(r.close, 1000);
});

test("client streaming: messages then the 0x01 half-close", async () => {
  const c = new WsCall(stack.wsUrl + "/demo.v1.EchoService/EchoClientStream");
  await c.start({}, [echoReq("a"), echoReq("b")]);
  await new Promise((r) => setTimeout(r, 20));
  c.send(echoReq("c"));
  c.halfClose();
  const r = await c.result();
  assert.equal(r.code, 0);
  assert.deepEqual(r.data.map((d) => echoRes(d).message), ["a b c"]);
});

test("bidi interleaved: each reply arrives before the next request is sent; two calls side by side", async () => {
  const a = await new WsCall(stack.wsUrl + "/probe.v1.EchoService/EchoBidi").start({});
  const b = await new WsCall(stack.wsUrl + "/demo.v1.EchoService/EchoBidi").start({});
  for (let i = 0; i < 5; i++) {
    a.send(echoReq(`a${i}`));
    b.send(echoReq(`b${i}`));
    assert.equal(echoRes((await a.waitData(i + 1))[i]!).message, `a${i}`);
    assert.equal(echoRes((await b.waitData(i + 1))[i]!).message, `b${i}`);
  }
  a.halfClose();
  b.halfClose();
  const [ra, rb] = await Promise.all([a.result(), b.result()]);
  assert.equal(ra.code, 0);
  assert.equal(rb.code, 0);
  assert.equal(ra.data.length, 5);
  assert.equal(rb.data.length, 5);
  assert.equal(ra.close, 1000);
  assert.deepEqual((await probe.call("EchoBidi", "a0")).requests, ["a0", "a1", "a2", "a3", "a4"]);
});

test("errors: status, message and backend trailers in the trailer frame, then close 1000", async () => {
  const r = await wsCall(stack.wsUrl, "/probe.v1.EchoService/Echo", {}, [echoReq("error:7:denied")]);
  assert.equal(r.code, Code.PermissionDenied);
  assert.equal(r.message, "denied");
  assert.equal(r.trailers.get("x-probe-err-trailer"), "1");
  assert.equal(r.close, 1000);
  assert.ok(r.trailersLast);

  const t = await wsCall(stack.wsUrl, "/demo.v1.EchoService/Echo", {}, [echoReq("error:5:gone: really")]);
  assert.equal(t.code, Code.NotFound);
  assert.equal(t.message, "gone: really");
  assert.equal(t.data.length, 0);
});

test("metadata from the header frame reaches the backend; authorization and cookie do not", async () => {
  await wsCall(stack.wsUrl, "/probe.v1.EchoService/Echo", { "x-room": "r1", authorization: "Bearer t", cookie: "c=1", "x-ion-uid": "forged" }, [echoReq("ws-md")]);
  const c = await probe.call("Echo", "ws-md");
  assert.deepEqual(c.metadata.get("x-room"), ["r1"]);
  for (const k of ["authorization", "cookie", "x-ion-uid", "content-type", "x-grpc-web"]) assert.equal(c.metadata.get(k), undefined, k);
});

test("unknown service and malformed path over a WebSocket: UNIMPLEMENTED in the trailers", async () => {
  const u = await wsCall(stack.wsUrl, "/nope.v1.Nope/Echo", {}, [echoReq("x")]);
  assert.equal(u.code, Code.Unimplemented);
  const m = await wsCall(stack.wsUrl, "/demo.v1.EchoService/Echo.x", {}, [echoReq("x")]);
  assert.equal(m.code, Code.Unimplemented);
});
