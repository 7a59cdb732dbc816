/**
 * CORS and WebSocket origins through the running gateway, with `edge.allowed_origins` set: preflights
 * from allowed origins get the methods and headers browsers need (app metadata names too), responses
 * expose the status, node and backend headers; a disallowed origin gets no CORS headers and its
 * WebSocket upgrade a 403 — before anything reaches NATS.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Code } from "@connectrpc/connect";
import { startStack, type Stack } from "../../helpers/gateway.js";
import { echoReq } from "../../helpers/echo-schema.js";
import { NrpcSpy } from "../../helpers/nrpc-spy.js";
import { envelope, grpcWebResult } from "../../helpers/grpc-web.js";
import { WsCall } from "../../helpers/grpc-websockets-client.js";

let stack: Stack;
let spy: NrpcSpy;
const allowed = "https://app.test";

before(async () => {
  stack = await startStack({ config: { edge: { allowed_origins: [allowed, "https://*.example.com"] } } });
  spy = await NrpcSpy.start(stack.nats);
});
after(async () => {
  await spy?.close();
  await stack?.stop();
});

const list = (h: string | null) => new Set((h ?? "").split(",").map((s) => s.trim().toLowerCase()).filter(Boolean));

function preflight(origin: string, headers = "content-type, x-grpc-web, x-user-agent, grpc-timeout, authorization") {
  return fetch(stack.url + "/demo.v1.EchoService/Echo", {
    method: "OPTIONS",
    headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": headers },
  });
}

test("preflight from an allowed origin: origin echoed, POST and GET, protocol headers and app metadata names allowed", async () => {
  for (const origin of [allowed, "https://a.example.com"]) {
    const res = await preflight(origin, "content-type, x-grpc-web, x-user-agent, grpc-timeout, authorization, connect-protocol-version, connect-timeout-ms, x-room");
    assert.equal(res.status, 204, origin);
    assert.equal(res.headers.get("access-control-allow-origin"), origin);
    assert.ok(list(res.headers.get("vary")).has("origin"));
    const methods = list(res.headers.get("access-control-allow-methods"));
    assert.ok(methods.has("post") && methods.has("get"));
    const h = list(res.headers.get("access-control-allow-headers"));
    for (const k of ["content-type", "x-grpc-web", "x-user-agent", "grpc-timeout", "authorization", "connect-protocol-version", "connect-timeout-ms", "x-room"]) {
      assert.ok(h.has(k), `${origin}: allows ${k} (got ${[...h].join(", ")})`);
    }
    assert.ok(Number(res.headers.get("access-control-max-age")) > 0);
  }
});

test("a disallowed origin: preflight refused, actual responses carry no CORS headers", async () => {
  for (const origin of ["https://evil.test", "https://example.com", "https://app.test.evil.test", "null"]) {
    const res = await preflight(origin);
    assert.notEqual(res.status, 204, origin);
    assert.equal(res.headers.get("access-control-allow-origin"), null, origin);
    assert.equal(res.headers.get("access-control-allow-headers"), null, origin);
  }
  const res = await fetch(stack.url + "/demo.v1.EchoService/Echo", {
    method: "POST",
    headers: { origin: "https://evil.test", "content-type": "application/grpc-web+proto", "x-grpc-web": "1" },
    body: envelope(echoReq("x")),
  });
  await res.arrayBuffer();
  assert.equal(res.headers.get("access-control-allow-origin"), null);
  assert.equal(res.headers.get("access-control-expose-headers"), null);
});

test("responses to an allowed origin expose the status, x-edge-node and backend headers", async () => {
  const gw = await fetch(stack.url + "/demo.v1.EchoService/Echo", {
    method: "POST",
    headers: { origin: allowed, "content-type": "application/grpc-web+proto", "x-grpc-web": "1" },
    body: envelope(echoReq("header:x-a=b")),
  });
  assert.equal(grpcWebResult(gw.headers, new Uint8Array(await gw.arrayBuffer())).code, 0);
  assert.equal(gw.headers.get("access-control-allow-origin"), allowed);
  const exposed = list(gw.headers.get("access-control-expose-headers"));
  for (const k of ["grpc-status", "grpc-message", "x-edge-node", "x-a"]) assert.ok(exposed.has(k), `gRPC-Web exposes ${k}`);

  const c = await fetch(stack.url + "/demo.v1.EchoService/Echo", {
    method: "POST",
    headers: { origin: allowed, "content-type": "application/proto" },
    body: echoReq("header:x-c=d"),
  });
  await c.arrayBuffer();
  const ce = list(c.headers.get("access-control-expose-headers"));
  for (const k of ["x-edge-node", "x-c", "trailer-x-c-trailer"]) assert.ok(ce.has(k), `Connect exposes ${k}`);

  // A trailers-only error: the status is in the HTTP headers, which must be readable.
  const e = await fetch(stack.url + "/demo.v1.EchoService/Echo", {
    method: "POST",
    headers: { origin: allowed, "content-type": "application/grpc-web+proto", "x-grpc-web": "1" },
    body: envelope(echoReq("error:7:denied")),
  });
  const r = grpcWebResult(e.headers, new Uint8Array(await e.arrayBuffer()));
  assert.equal(r.code, Code.PermissionDenied);
  assert.ok(list(e.headers.get("access-control-expose-headers")).has("grpc-status"));
});

test("WebSocket upgrade: a disallowed Origin gets 403 and nothing reaches NATS; allowed and absent Origins work", async () => {
  const wsEcho = async (origin: string | undefined) => {
    const c = new WsCall(stack.wsUrl + "/demo.v1.EchoService/Echo", origin ? { origin } : {});
    await c.start({}, [echoReq(`ws ${origin ?? "no origin"}`)], true);
    const r = await c.result();
    assert.equal(r.code, 0, String(origin));
    assert.equal(r.data.length, 1);
  };
  const mark = await spy.settle(() => wsEcho(allowed), ".demo.v1.EchoService.Echo");
  for (const origin of ["https://evil.test", "https://example.com"]) {
    const c = new WsCall(stack.wsUrl + "/demo.v1.EchoService/EchoStream", { origin });
    await assert.rejects(c.opened);
    assert.equal(c.refused, 403, origin);
  }
  assert.deepEqual(await spy.between(mark, () => wsEcho(allowed), ".demo.v1.EchoService.Echo"), [], "the refused upgrades published nothing");
  await wsEcho("https://b.example.com");
  await wsEcho(undefined);
});

test("origins are parsed before matching: `https://evil.com#.example.com` and kin are refused (HTTP 403, WebSocket 403), nothing reaches NATS", async () => {
  const spoofed = ["https://evil.com#.example.com", "https://evil.com?.example.com", "https://evil.com\\.example.com", "https://evil.com@a.example.com", "https://a.example.com/", "null", ""];
  const mark = await spy.settle(() => fetch(stack.url + "/demo.v1.EchoService/Echo", { method: "POST", headers: { origin: allowed, "content-type": "application/proto" }, body: echoReq("mark") }).then((r) => r.arrayBuffer()), ".demo.v1.EchoService.Echo");
  const refused = async () => {
    for (const origin of spoofed) {
      // Connect unary (the Node fast path, then the app) and gRPC-Web: refused before any call starts.
      const c = await fetch(stack.url + "/demo.v1.EchoService/Echo", { method: "POST", headers: { origin, "content-type": "application/proto" }, body: echoReq("spoof") });
      await c.arrayBuffer();
      assert.equal(c.status, 403, `Connect ${JSON.stringify(origin)}`);
      assert.equal(c.headers.get("access-control-allow-origin"), null);
      const w = await fetch(stack.url + "/demo.v1.EchoService/Echo", { method: "POST", headers: { origin, "content-type": "application/grpc-web+proto", "x-grpc-web": "1" }, body: envelope(echoReq("spoof")) });
      await w.arrayBuffer();
      assert.equal(w.status, 403, `gRPC-Web ${JSON.stringify(origin)}`);
      const pre = await preflight(origin);
      await pre.arrayBuffer();
      assert.equal(pre.headers.get("access-control-allow-origin"), null, `preflight ${JSON.stringify(origin)}`);
      if (origin === "") continue; // WsCall sends no Origin for "" (allowed: a non-browser client)
      const ws = new WsCall(stack.wsUrl + "/demo.v1.EchoService/EchoStream", { origin });
      await assert.rejects(ws.opened);
      assert.equal(ws.refused, 403, `WebSocket ${JSON.stringify(origin)}`);
    }
  };
  const echo = () => fetch(stack.url + "/demo.v1.EchoService/Echo", { method: "POST", headers: { origin: allowed, "content-type": "application/proto" }, body: echoReq("after") }).then((r) => r.arrayBuffer());
  await refused();
  assert.deepEqual(await spy.between(mark, echo, ".demo.v1.EchoService.Echo"), [], "the refused calls published nothing");
});
