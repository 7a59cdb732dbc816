/**
 * Limits and hostile input through the running gateway: oversized messages and metadata
 * (RESOURCE_EXHAUSTED, the backend never called), crafted method paths (rejected without any NATS
 * publish), unknown services (UNIMPLEMENTED), services without a live node (UNAVAILABLE), and a
 * client that does not read a big server stream (the gateway gives up instead of buffering it all).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import http2 from "node:http2";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { EchoService } from "../../../src/gen/demo/v1/echo_pb.js";
import { startStack, type Stack } from "../../helpers/gateway.js";
import { eventually } from "../../helpers/nats.js";
import { within } from "../../helpers/wait.js";
import { abortCode, startProbe, type Probe } from "../../helpers/probe-backend.js";
import { echoReq, echoServiceIn } from "../../helpers/echo-schema.js";
import { NrpcSpy } from "../../helpers/nrpc-spy.js";
import { b64, envelope, envelopes, fromGrpcWebText, grpcWebResult } from "../../helpers/grpc-web.js";
import { WsCall, wsCall } from "../../helpers/grpc-websockets-client.js";

const MAX_MESSAGE = 64 * 1024;
const MAX_METADATA = 4096;
let stack: Stack;
let probe: Probe;
let spy: NrpcSpy;
let h2: Http2SessionManager;
const ProbeService = echoServiceIn("probe.v1");
const ControlService = echoServiceIn("control.v1");

before(async () => {
  stack = await startStack({
    config: { edge: { routes: { "probe.v1": "probe", "control.v1": "probe", "ghost.v1": "ghost" }, max_message_bytes: MAX_MESSAGE, max_metadata_bytes: MAX_METADATA } },
  });
  probe = await startProbe(stack.nats, { nid: "probe-limits", service: "probe", packages: ["probe.v1", "control.v1"] });
  await stack.waitForNodes(1, "probe");
  spy = await NrpcSpy.start(stack.nats);
  h2 = new Http2SessionManager(stack.url);
});
after(async () => {
  h2?.abort();
  await spy?.close();
  await probe?.close();
  await stack?.stop();
});

let controlSeq = 0;
/** A call that reaches the probe (on a service no other call uses): everything the gateway published before it is already at the spy. */
const control = () => createClient(ControlService, createConnectTransport({ baseUrl: stack.url, httpVersion: "1.1" })).echo({ message: `control-${++controlSeq}` });
const CONTROL = ".control.v1.EchoService.Echo";

/** The outcome of a raw call on one protocol: an HTTP status when refused outright, else a gRPC code. */
type Outcome = { http?: number; code?: Code; message?: string };

/** `resource_exhausted` → Code.ResourceExhausted */
const codeFromString = (s: string): Code => Code[s.replace(/(^|_)(\w)/g, (_m, _u, c: string) => c.toUpperCase()) as keyof typeof Code];

/** One raw unary call on each HTTP protocol and grpc-websockets. */
const protocols: Record<string, (path: string, msg: Uint8Array, headers?: Record<string, string>) => Promise<Outcome>> = {
  async connect(path, msg, headers = {}) {
    const r = await fetch(stack.url + path, { method: "POST", headers: { "content-type": "application/proto", ...headers }, body: msg as Uint8Array<ArrayBuffer> });
    const text = await r.text();
    if (!(r.headers.get("content-type") ?? "").startsWith("application/json")) return { http: r.status };
    const j = JSON.parse(text) as { code: string; message: string };
    return { http: r.status, code: codeFromString(j.code), message: j.message };
  },
  async "connect-stream"(path, msg, headers = {}) {
    const r = await fetch(stack.url + path, { method: "POST", headers: { "content-type": "application/connect+proto", ...headers }, body: envelope(msg) });
    const body = new Uint8Array(await r.arrayBuffer());
    if (r.status !== 200) return { http: r.status };
    const end = envelopes(body).at(-1)!;
    const j = JSON.parse(new TextDecoder().decode(end.data)) as { error?: { code: string; message: string } };
    return { code: j.error ? codeFromString(j.error.code) : (0 as Code), message: j.error?.message };
  },
  async "grpc-web"(path, msg, headers = {}) {
    const r = await fetch(stack.url + path, { method: "POST", headers: { "content-type": "application/grpc-web+proto", "x-grpc-web": "1", ...headers }, body: envelope(msg) });
    const body = new Uint8Array(await r.arrayBuffer());
    if (r.status !== 200) return { http: r.status };
    const g = grpcWebResult(r.headers, body);
    return { code: g.code, message: g.message };
  },
  async "grpc-web-text"(path, msg, headers = {}) {
    const r = await fetch(stack.url + path, { method: "POST", headers: { "content-type": "application/grpc-web-text", "x-grpc-web": "1", ...headers }, body: b64(envelope(msg)) });
    const text = await r.text();
    if (r.status !== 200) return { http: r.status };
    const g = grpcWebResult(r.headers, fromGrpcWebText(text));
    return { code: g.code, message: g.message };
  },
  async "grpc-websockets"(path, msg, headers = {}) {
    const c = new WsCall(stack.wsUrl + path);
    try {
      await c.start(headers, [msg], true);
    } catch {
      return { http: c.refused };
    }
    const r = await c.result();
    return { code: r.code, message: r.message };
  },
  async grpc(path, msg, headers = {}) {
    const session = http2.connect(stack.url);
    try {
      return await new Promise<Outcome>((resolve, reject) => {
        session.on("error", reject);
        const req = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers", ...headers });
        let status: Outcome = {};
        req.on("response", (h) => {
          if (h[":status"] !== 200) status = { http: Number(h[":status"]) };
          else if (h["grpc-status"] !== undefined) status = { code: Number(h["grpc-status"]) as Code, message: decodeURIComponent(String(h["grpc-message"] ?? "")) };
        });
        req.on("trailers", (t) => {
          status = { code: Number(t["grpc-status"]) as Code, message: decodeURIComponent(String(t["grpc-message"] ?? "")) };
        });
        req.on("data", () => {});
        req.on("end", () => resolve(status));
        req.on("error", (e) => resolve({ http: -1, message: String(e) }));
        req.end(envelope(msg));
      });
    } finally {
      session.close();
    }
  },
};

test("crafted method paths are refused on every protocol without any NATS publish", async () => {
  const paths = [
    "/demo.v1.EchoService.*/Echo",
    "/demo.v1.EchoService/*",
    "/a>b/c",
    "/demo.v1.EchoService/>",
    "/demo.v1.EchoService/Echo.x",
    "/demo.v1.EchoService/Echo.>",
    "/%2A/x",
    "/demo.v1.EchoService/%3E",
    "/demo.v1.Echo Service/Echo",
    "/demo.v1.EchoService/Echo%20x",
    "/demo.v1.EchoService/Echo%0d%0ax",
    "/demo.v1.EchoService%2FEcho/Echo",
    "/demo..v1.EchoService/Echo",
    "/.demo.v1.EchoService/Echo",
    "/demo.v1.EchoService/Echo/",
    "/demo.v1.EchoService/Echo/x",
    "/demo.v1.EchoService/Ech%C3%B6",
    "/demo.v1.EchoService/" + "E".repeat(300),
  ];
  const mark = await spy.settle(control, CONTROL);
  const before = probe.calls.length;
  for (const p of paths) {
    for (const [name, call] of Object.entries(protocols)) {
      const o = await call(p, echoReq("crafted"));
      const refused = o.http === 404 || o.http === -1 || o.code === Code.Unimplemented;
      assert.ok(refused, `${name} ${p}: refused (got ${JSON.stringify(o)})`);
    }
  }
  assert.deepEqual(await spy.between(mark, control, CONTROL), [], "nothing was published on nrpc.>");
  assert.equal(probe.calls.length, before + 1, "only the control call reached a backend");
});

test("unknown service → UNIMPLEMENTED; a service with no live node → UNAVAILABLE; neither publishes", async () => {
  const mark = await spy.settle(control, CONTROL);
  for (const [name, call] of Object.entries(protocols)) {
    const u = await call("/nope.v1.Nope/Echo", echoReq("x"));
    assert.equal(u.code, Code.Unimplemented, `${name}: ${JSON.stringify(u)}`);
    if (name === "connect") assert.equal(u.http, 501);
    for (const path of ["/ghost.v1.Ghost/Echo", "/rtc.RTC/Signal"]) {
      // rtc.RTC/Signal is bidi and its schema is compiled in: a Connect unary request to it does not
      // fit (HTTP 415, as connect-node) before any node is looked for.
      if (name === "connect" && path === "/rtc.RTC/Signal") {
        assert.equal((await call(path, echoReq("x"))).http, 415);
        continue;
      }
      const n = await call(path, echoReq("x"));
      assert.equal(n.code, Code.Unavailable, `${name} ${path}: ${JSON.stringify(n)}`);
      if (name === "connect") assert.equal(n.http, 503);
    }
  }
  assert.deepEqual(await spy.between(mark, control, CONTROL), []);
});

test("oversized request message → RESOURCE_EXHAUSTED on every protocol; a method with a known schema never reaches NATS", async () => {
  const mark = await spy.settle(control, CONTROL);
  const big = echoReq("x".repeat(MAX_MESSAGE + 10));
  for (const path of ["/demo.v1.EchoService/Echo", "/demo.v1.EchoService/EchoStream"]) {
    for (const [name, call] of Object.entries(protocols)) {
      const o = await call(path, big);
      // The schema is known: a Connect content type of the wrong kind is refused (415) before the body is read.
      if ((name === "connect") !== path.endsWith("/Echo") && name.startsWith("connect")) {
        assert.equal(o.http, 415, `${name} ${path}: ${JSON.stringify(o)}`);
        continue;
      }
      assert.equal(o.code, Code.ResourceExhausted, `${name} ${path}: ${JSON.stringify(o)}`);
      if (name === "connect") assert.equal(o.http, 429);
    }
  }
  // connect-node clients too (Connect over HTTP/2, gRPC-Web, gRPC).
  for (const t of [
    createConnectTransport({ baseUrl: stack.url, httpVersion: "2", sessionManager: h2 }),
    createGrpcWebTransport({ baseUrl: stack.url, httpVersion: "1.1" }),
    createGrpcTransport({ baseUrl: stack.url, sessionManager: h2 }),
  ]) {
    await assert.rejects(createClient(EchoService, t).echo({ message: "y".repeat(MAX_MESSAGE + 10) }), (e: unknown) => e instanceof ConnectError && e.code === Code.ResourceExhausted);
  }
  assert.deepEqual(await spy.between(mark, control, CONTROL), [], "nothing was published on nrpc.>");

  // Exactly at the limit is fine.
  const atLimit = "z".repeat(MAX_MESSAGE - 4); // field tag + 3-byte length
  assert.equal(echoReq(atLimit).length, MAX_MESSAGE);
  for (const [name, call] of Object.entries(protocols)) {
    const path = name === "connect-stream" ? "/demo.v1.EchoService/EchoStream" : "/demo.v1.EchoService/Echo";
    assert.equal((await call(path, echoReq(atLimit))).code ?? 0, 0, name);
  }
});

test("oversized request message to a method without a schema: refused before any node is called (the call opens only with its first message)", async () => {
  const mark = await spy.settle(control, CONTROL);
  const before = probe.calls.length;
  const big = echoReq("x".repeat(MAX_MESSAGE + 10));
  for (const [name, call] of Object.entries(protocols)) {
    const o = await call("/probe.v1.EchoService/Echo", big);
    assert.equal(o.code, Code.ResourceExhausted, `${name}: ${JSON.stringify(o)}`);
  }
  assert.deepEqual(await spy.between(mark, control, CONTROL), [], "nothing was published on nrpc.>");
  assert.equal(probe.calls.length, before + 1, "only the control call reached the node");
});

test("HTTP/1.1 keep-alive survives a refused oversized body: the connection serves the next, long call", async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const post = (path: string, contentType: string, body: Uint8Array) =>
    new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer; reused: boolean }>((resolve, reject) => {
      const req = http.request(stack.url + path, { method: "POST", agent, headers: { "content-type": contentType, "x-grpc-web": "1" } }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks), reused: req.reusedSocket }));
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end(body);
    });
  try {
    const big = echoReq("x".repeat(MAX_MESSAGE * 3));
    let n = 0;
    for (const [ct, body] of [
      ["application/grpc-web+proto", envelope(big)],
      ["application/connect+proto", envelope(big)],
      ["application/proto", big],
    ] as const) {
      const r = await post("/probe.v1.EchoService/Echo", ct, body);
      assert.ok(r.status === 200 || r.status === 429, ct);
      // Longer than @hono/node-server's 500 ms drain timer, on the same connection.
      const msg = `sleep:${800 + ++n}`;
      const slow = await post("/probe.v1.EchoService/Echo", "application/grpc-web+proto", envelope(echoReq(msg)));
      assert.equal(slow.reused, true, `${ct}: the same connection`);
      assert.equal(grpcWebResult(new Headers(slow.headers as Record<string, string>), new Uint8Array(slow.body)).code, 0, `${ct}: the next call completed`);
    }
  } finally {
    agent.destroy();
  }
});

test("oversized metadata → RESOURCE_EXHAUSTED on every protocol, the backend never called", async () => {
  const mark = await spy.settle(control, CONTROL);
  const before = probe.calls.length;
  const headers = { "x-big": "m".repeat(MAX_METADATA + 100) };
  for (const [name, call] of Object.entries(protocols)) {
    const o = await call("/probe.v1.EchoService/Echo", echoReq("md"), headers);
    assert.equal(o.code, Code.ResourceExhausted, `${name}: ${JSON.stringify(o)}`);
  }
  // Many small entries add up too.
  const many: Record<string, string> = {};
  for (let i = 0; i < 200; i++) many[`x-m${i}`] = "v".repeat(20);
  assert.equal((await protocols["grpc-web"]!("/probe.v1.EchoService/Echo", echoReq("md"), many)).code, Code.ResourceExhausted);
  assert.equal(probe.calls.length, before);
  assert.deepEqual(await spy.between(mark, control, CONTROL), []);
});

test("backpressure: a fetch that does not read a big stream → the backend is cancelled RESOURCE_EXHAUSTED; bounded delivery", async () => {
  // 10000 × 16 KiB = 160 MiB offered; the gateway may hold a few MiB for a slow client, not more.
  const res = await fetch(stack.url + "/probe.v1.EchoService/EchoStream", {
    method: "POST",
    headers: { "content-type": "application/connect+proto" },
    body: envelope(echoReq("big:16384", 10_000)),
  });
  assert.equal(res.status, 200);
  const c = await probe.call("EchoStream", "big:16384");
  await eventually(() => c.signal.aborted && c.done, 30_000, "backend cancelled");
  assert.equal(abortCode(c.signal), Code.ResourceExhausted);
  assert.ok(c.sent < 10_000, `the backend stopped early (${c.sent} sent)`);
  await eventually(() => stack.gw.gateway.director.inFlight === 0, 10_000, "in-flight 0");
  // Now read: some messages, then the error.
  const body = new Uint8Array(await res.arrayBuffer());
  assert.ok(body.length < 64 * 1024 * 1024, `delivered ${body.length} bytes`);
  const frames = envelopes(body);
  const end = JSON.parse(new TextDecoder().decode(frames.at(-1)!.data)) as { error?: { code: string } };
  assert.equal(end.error?.code, "resource_exhausted");
  assert.ok(frames.length > 1);
});

test("backpressure: a WebSocket client that does not read, and an HTTP/2 client that does not read", async () => {
  const w = new WsCall(stack.wsUrl + "/probe.v1.EchoService/EchoStream");
  await w.opened;
  w.ws.pause();
  await w.start({}, [echoReq("big:16385", 10_000)], true);
  const wc = await probe.call("EchoStream", "big:16385");
  await eventually(() => wc.signal.aborted && wc.done, 30_000, "backend cancelled (ws)");
  assert.equal(abortCode(wc.signal), Code.ResourceExhausted);
  assert.ok(wc.sent < 10_000);
  w.ws.resume();
  const wr = await w.result();
  assert.equal(wr.code, Code.ResourceExhausted);

  const client = createClient(ProbeService, createGrpcTransport({ baseUrl: stack.url, sessionManager: h2 }));
  const it = client.echoStream({ message: "big:16386", repeat: 10_000 })[Symbol.asyncIterator]();
  await it.next();
  const hc = await probe.call("EchoStream", "big:16386");
  await eventually(() => hc.signal.aborted && hc.done, 30_000, "backend cancelled (h2)");
  assert.equal(abortCode(hc.signal), Code.ResourceExhausted);
  assert.ok(hc.sent < 10_000);
  await assert.rejects(
    within(
      (async () => {
        while (!(await it.next()).done);
      })(),
      30_000,
      "the h2 stream's end",
    ),
    (e: unknown) => e instanceof ConnectError && e.code === Code.ResourceExhausted,
  );
  await eventually(() => stack.gw.gateway.director.inFlight === 0, 10_000, "in-flight 0");
});

test("after all that, unary works on every protocol", async () => {
  for (const [name, call] of Object.entries(protocols)) {
    const o = await call("/demo.v1.EchoService/Echo", echoReq("ok"));
    assert.equal(o.code ?? 0, 0, `${name}: ${JSON.stringify(o)}`);
  }
  const r = await wsCall(stack.wsUrl, "/demo.v1.EchoService/Echo", {}, [echoReq("ok")]);
  assert.equal(r.code, 0);
});

test("backpressure: a node that floods 160 MiB without pause (demo node) → the call fails, delivery bounded, the gateway recovers", async () => {
  // The demo node publishes all 10000 × 16 KiB in one go (nats-grpc has no flow control), in this
  // process. The gateway gives up after its buffer limit; the rest still crosses its NATS connection
  // (shared inbox) and is dropped, which can delay discovery enough for a node to be declared down
  // meanwhile on a loaded machine — hence the last test in this file, and an eventual recovery.
  const res = await fetch(stack.url + "/demo.v1.EchoService/EchoStream", {
    method: "POST",
    headers: { "content-type": "application/connect+proto" },
    body: envelope(echoReq("f".repeat(16 * 1024), 10_000)),
  });
  await eventually(() => stack.gw.gateway.director.inFlight === 0, 60_000, "in-flight 0");
  const body = new Uint8Array(await res.arrayBuffer());
  assert.ok(body.length < 64 * 1024 * 1024, `delivered ${body.length} bytes of 160 MiB`);
  const end = JSON.parse(new TextDecoder().decode(envelopes(body).at(-1)!.data)) as { error?: { code: string; message: string } };
  assert.ok(end.error?.code === "resource_exhausted" || end.error?.code === "unavailable", JSON.stringify(end));
  assert.equal(await (await fetch(stack.url + "/healthz")).text(), "ok");
  const client = createClient(EchoService, createConnectTransport({ baseUrl: stack.url, httpVersion: "1.1" }));
  await eventually(async () => {
    try {
      return (await client.echo({ message: "still here" })).message === "still here";
    } catch {
      return false;
    }
  }, 60_000, "the gateway serves again");
});
