/**
 * The Node entry's gate (src/runtime/node/gate.ts: the Node converter and the dispatcher, without
 * @hono/node-server and the app) against the app's path: two gateways on one NATS, one with the gate
 * (the default) and one without, asked the same raw HTTP/1.1 requests. Status, every response header
 * (names, values, order; only `Date` may differ, and a streamed response's framing) and the body must
 * be the same, and so must what the backend receives; the gate must have served exactly the requests
 * it is meant for (RPC methods on a plain target and Host, no upgrade, not a static file), and left
 * the rest to the app.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { gzipSync } from "node:zlib";
import type { NatsConnection } from "@nats-io/nats-core";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { EchoService } from "../../../src/gen/demo/v1/echo_pb.js";
import { connectNats } from "../../../src/runtime/node/nats-connect.js";
import { silentLogger } from "../../../src/observability/logger.js";
import { startNodeGateway, type NodeGateway } from "../../../src/runtime/node/index.js";
import { startStack, type Stack } from "../../helpers/gateway.js";
import { eventually } from "../../helpers/nats.js";
import { within } from "../../helpers/wait.js";
import { abortCode, startProbe, type Probe, type ProbeCall } from "../../helpers/probe-backend.js";
import { echoReq } from "../../helpers/echo-schema.js";
import { envelope, envelopes } from "../../helpers/grpc-web.js";
import { H2Sessions } from "../../helpers/h2-exchange.js";

const allowed = "https://app.test";
let stack: Stack;
let probe: Probe;
let slowNc: NatsConnection;
let slow: NodeGateway;

before(async () => {
  stack = await startStack({
    nodes: 1, // one demo node: x-edge-node and the echoed node id are the same through either gateway
    config: { edge: { routes: { "probe.v1": "probe" }, allowed_origins: [allowed], max_message_bytes: 4096, max_metadata_bytes: 1024 } },
  });
  probe = await startProbe(stack.nats, { nid: "probe-fast", service: "probe", packages: ["probe.v1"] });
  await stack.waitForNodes(1, "probe");
  slowNc = await connectNats(stack.nats.wsUrl, { name: "test-gateway-slow" });
  slow = await startNodeGateway({ config: { ...stack.config }, nc: slowNc, log: silentLogger, processMetrics: false, gate: false });
  for (const g of [stack.gw, slow]) {
    await eventually(() => g.gateway.table.nodes("probe").length > 0 && g.gateway.table.nodes("demo").length > 0, 10_000, "gateway tables synced");
  }
});
after(async () => {
  await slow?.close(100);
  await slowNc?.close();
  await probe?.close();
  await stack?.stop();
});

interface RawResponse {
  status: number;
  /** Raw header lines in order, without Date. */
  headers: string[];
  body: Buffer;
}

/** One HTTP/1.1 request on its own connection; headers as given (a list allows duplicates). */
function raw(base: string, path: string, headers: [string, string][], body?: Uint8Array, method = "POST"): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const u = new URL(base);
    // A header list (duplicates kept, as sent) gets no automatic Host or Content-Length.
    const all: [string, string][] = [...headers];
    if (!all.some(([k]) => k.toLowerCase() === "host")) all.unshift(["host", u.host]);
    if (body !== undefined && !all.some(([k]) => k.toLowerCase() === "transfer-encoding")) all.push(["content-length", String(body.byteLength)]);
    const req = http.request({ host: u.hostname, port: u.port, path, method, agent: false, headers: all.flat() as unknown as http.OutgoingHttpHeaders });
    req.on("error", reject);
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const lines: string[] = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) {
          if (res.rawHeaders[i]!.toLowerCase() !== "date") lines.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
        }
        resolve({ status: res.statusCode!, headers: lines, body: Buffer.concat(chunks) });
      });
    });
    req.end(body);
  });
}

/**
 * Sends the same request to both gateways; asserts identical answers and whether the fast path took it.
 * The probe's record of the call (metadata) is compared as well when the call reached it.
 */
async function same(what: string, path: string, headers: [string, string][], body: Uint8Array | undefined, fast: boolean, framing = true, method = "POST"): Promise<RawResponse> {
  const served = stack.gw.gate!.served;
  const probeCalls = probe.calls.length;
  const a = await raw(stack.url, path, headers, body, method);
  const aCall = probe.calls.length > probeCalls ? probe.calls.at(-1) : undefined;
  const b = await raw(slow.url, path, headers, body, method);
  const bCall = probe.calls.length > probeCalls + (aCall ? 1 : 0) ? probe.calls.at(-1) : undefined;
  assert.equal(stack.gw.gate!.served - served, fast ? 1 : 0, `${what}: served by the fast path: ${fast}`);
  assert.equal(a.status, b.status, `${what}: status`);
  // A streamed response's framing depends on timing on the app's path (@hono/node-server sends a
  // Content-Length only when the stream ended within a few reads): gRPC-Web compares without it.
  const framed = (h: string[]) => (framing ? h : h.filter((l) => !/^(content-length|transfer-encoding):/i.test(l)));
  assert.deepEqual(framed(a.headers), framed(b.headers), `${what}: headers`);
  assert.deepEqual(a.body, b.body, `${what}: body`);
  sameBackendRecord(what, aCall, bCall);
  return a;
}

/** Both paths reached the backend, or neither; when both did, with the same metadata and messages. */
function sameBackendRecord(what: string, aCall: ProbeCall | undefined, bCall: ProbeCall | undefined): void {
  assert.equal(!!aCall, !!bCall, `${what}: reached the backend through both or neither`);
  if (aCall && bCall) {
    const md = (m: Map<string, string[]>) => [...m].filter(([k]) => k !== "traceparent" && k !== "x-request-id").sort(([x], [y]) => (x < y ? -1 : 1));
    assert.deepEqual(md(aCall.metadata), md(bCall.metadata), `${what}: backend metadata`);
    assert.deepEqual(aCall.requests, bCall.requests, `${what}: backend request`);
  }
}

const proto: [string, string] = ["content-type", "application/proto"];
const jsonCt: [string, string] = ["content-type", "application/json"];
const enc = new TextEncoder();

test("success: binary and JSON, backend header and trailers, x-edge-node, app metadata", async () => {
  const r = await same("proto", "/demo.v1.EchoService/Echo", [proto, ["connect-protocol-version", "1"]], echoReq("header:x-a=b"), true);
  assert.equal(r.status, 200);
  assert.ok(r.headers.includes("x-a: b") && r.headers.includes("trailer-x-a-trailer: b"), r.headers.join("\n"));
  assert.ok(r.headers.some((h) => h.startsWith("x-edge-node: ")));
  await same("probe", "/probe.v1.EchoService/Echo", [proto, ["x-room", "r1"], ["x-multi", "1"], ["X-Multi", "2"], ["cookie", "a=1"], ["cookie", "b=2"], ["authorization", "Bearer x"]], echoReq("m"), true);
  await same("json", "/demo.v1.EchoService/Echo", [jsonCt], enc.encode(JSON.stringify({ message: "header:x-j=k" })), true);
  await same("json charset", "/demo.v1.EchoService/Echo", [["content-type", "application/json; charset=utf-8"]], enc.encode(JSON.stringify({ message: "j" })), true);
  await same("empty body", "/probe.v1.EchoService/Echo", [proto], undefined, true);
  await same("timeout header", "/demo.v1.EchoService/Echo", [proto, ["connect-timeout-ms", "5000"]], echoReq("t"), true);
});

test("errors: backend status with header and trailers, routing, limits, JSON without schema, bad JSON, deadline", async () => {
  const e = await same("backend error", "/probe.v1.EchoService/Echo", [proto], echoReq("error:7:denied here"), true);
  assert.equal(e.status, 403);
  assert.ok(e.headers.includes("x-probe-err: 1") && e.headers.includes("trailer-x-probe-err-trailer: 1"), e.headers.join("\n"));
  await same("unknown service", "/nope.v1.Nope/Echo", [proto], echoReq("x"), true);
  await same("no live node", "/ghost.v1.Ghost/Echo", [proto], echoReq("x"), true);
  await same("malformed method", "/demo.v1.EchoService/Echo.x", [proto], echoReq("x"), true);
  await same("oversized message", "/demo.v1.EchoService/Echo", [proto], echoReq("x".repeat(5000)), true);
  await same("oversized metadata", "/demo.v1.EchoService/Echo", [proto, ["x-big", "v".repeat(2000)]], echoReq("x"), true);
  await same("bad metadata value", "/demo.v1.EchoService/Echo", [proto, ["x-bin", "\u00e9t\u00e9"]], echoReq("x"), true);
  await same("JSON without a schema", "/probe.v1.EchoService/Echo", [jsonCt], enc.encode("{}"), true);
  await same("bad JSON", "/demo.v1.EchoService/Echo", [jsonCt], enc.encode("{nope"), true);
  await same("unsupported compression", "/demo.v1.EchoService/Echo", [proto, ["content-encoding", "br"]], echoReq("x"), true);
  await same("bad timeout", "/demo.v1.EchoService/Echo", [proto, ["connect-timeout-ms", "soon"]], echoReq("x"), true);
  const d = await same("deadline", "/demo.v1.EchoService/Echo", [proto, ["connect-timeout-ms", "50"]], echoReq("sleep:2000"), true);
  assert.equal(d.status, 504);
});

test("gzip: compressed request, compressed response when accepted and large enough", async () => {
  const msg = "z".repeat(2000);
  const r = await same("gzip both ways", "/demo.v1.EchoService/Echo", [proto, ["content-encoding", "gzip"], ["accept-encoding", "gzip"]], gzipSync(echoReq(msg)), true);
  assert.ok(r.headers.includes("content-encoding: gzip"), r.headers.join("\n"));
  await same("gzip not accepted", "/demo.v1.EchoService/Echo", [proto, ["accept-encoding", "br"]], echoReq(msg), true);
  await same("corrupt gzip", "/demo.v1.EchoService/Echo", [proto, ["content-encoding", "gzip"]], echoReq("not gzip"), true);
});

test("CORS: an allowed origin gets the same CORS headers on success and error; other origins the same refusal or same-origin answer", async () => {
  const ok = await same("allowed origin", "/demo.v1.EchoService/Echo", [proto, ["origin", allowed]], echoReq("header:x-c=d"), true);
  assert.ok(ok.headers.includes(`access-control-allow-origin: ${allowed}`), ok.headers.join("\n"));
  assert.ok(ok.headers.some((h) => h.startsWith("access-control-expose-headers: ") && h.includes("trailer-x-c-trailer")));
  await same("allowed origin, error", "/probe.v1.EchoService/Echo", [proto, ["origin", allowed]], echoReq("error:5:gone"), true);
  await same("allowed origin, JSON", "/demo.v1.EchoService/Echo", [jsonCt, ["origin", allowed]], enc.encode('{"message":"o"}'), true);
  const refused = await same("disallowed origin", "/demo.v1.EchoService/Echo", [proto, ["origin", "https://evil.test"]], echoReq("x"), true);
  assert.equal(refused.status, 403);
  // A page the gateway serves itself (Origin = Host): allowed by the app, without CORS headers.
  const own = await same("same origin", "/demo.v1.EchoService/Echo", [proto, ["host", "gw.test"], ["origin", "http://gw.test"]], echoReq("x"), true);
  assert.equal(own.status, 200);
});

test("streaming, GET, other content types and HTTP methods are served through the gate as the app serves them", async () => {
  const p = "/demo.v1.EchoService/Echo";
  const stream: [string, string] = ["content-type", "application/connect+proto"];
  // A streamed response's framing depends on timing on the app's path: compared without it, as gRPC-Web.
  await same("Connect streaming", "/demo.v1.EchoService/EchoStream", [stream], envelope(echoReq("s", 2)), true, false);
  await same("Connect client streaming", "/demo.v1.EchoService/EchoClientStream", [stream, ["transfer-encoding", "chunked"]], Buffer.concat([envelope(echoReq("a")), envelope(echoReq("b"))]), true, false);
  await same("Connect streaming, oversized message", "/demo.v1.EchoService/EchoStream", [stream], envelope(echoReq("x".repeat(5000))), true, false);
  await sameWeb("gRPC-Web, chunked body", p, [gw, ["transfer-encoding", "chunked"]], envelope(echoReq("w")), true);
  await sameWeb("gRPC-Web, body over one message", p, [gw], envelope(echoReq("x".repeat(5000))), true);
  await sameWeb("gRPC-Web, two messages too large together", "/demo.v1.EchoService/EchoClientStream", [gw], Buffer.concat([envelope(echoReq("a".repeat(2100))), envelope(echoReq("b".repeat(2100)))]), true);
  await sameWeb("gRPC-Web, not a gRPC-Web subtype", p, [["content-type", "application/grpc-webx"]], envelope(echoReq("w")), true);
  await sameWeb("gRPC-Web, upper-case type", p, [["content-type", "Application/grpc-web"]], envelope(echoReq("w")), true);
  await same("unknown content type", p, [["content-type", "text/plain"]], echoReq("x"), true);
  await same("no content type", p, [], echoReq("x"), true);
  await same("query string", p + "?x=1", [proto], echoReq("q"), true);
  const msg = encodeURIComponent(JSON.stringify({ message: "g" }));
  await same("Connect GET", `${p}?encoding=json&message=${msg}`, [], undefined, true, true, "GET");
  await same("Connect GET, base64", `${p}?encoding=proto&base64=1&message=${Buffer.from(echoReq("b")).toString("base64url")}`, [], undefined, true, true, "GET");
  await same("Connect GET without message (known schema: an empty message)", p, [], undefined, true, true, "GET");
  await same("Connect GET on a streaming method", "/demo.v1.EchoService/EchoStream?encoding=proto&message=", [], undefined, true, true, "GET");
  await same("PUT on a known method", p, [proto], echoReq("x"), true, true, "PUT");
  await same("DELETE on a known method", p, [], undefined, true, true, "DELETE");
});

test("everything else is left to the app", async () => {
  const p = "/demo.v1.EchoService/Echo";
  await same("GET of a static file", "/vendor/x.js", [], undefined, false, true, "GET");
  await same("GET without message, unknown service", "/nope.v1.Nope/x.js", [], undefined, false, true, "GET");
  await same("PUT on an unknown service", "/nope.v1.Nope/Echo", [proto], echoReq("x"), false, true, "PUT");
  await same("OPTIONS preflight", p, [["origin", allowed], ["access-control-request-method", "POST"]], undefined, false, true, "OPTIONS");
  await same("HEAD", p, [], undefined, false, true, "HEAD");
  await same("query string with a space-like escape the URL parser rewrites", p + "?x=%22a%22&y='\"'", [proto], echoReq("q"), false);
  await same("encoded path", "/demo.v1.EchoService/Ech%6F", [proto], echoReq("x"), false);
  await same("dot segment", "/demo.v1.EchoService/..", [proto], echoReq("x"), false);
  await same("trailing slash", p + "/", [proto], echoReq("x"), false);
  await same("one segment", "/demo.v1.EchoService", [proto], echoReq("x"), false);
  await same("odd host", p, [proto, ["host", "0x7f.1"]], echoReq("x"), false);
});

const gw: [string, string] = ["content-type", "application/grpc-web+proto"];
const gwText: [string, string] = ["content-type", "application/grpc-web-text"];
const b64 = (b: Uint8Array) => enc.encode(Buffer.from(b).toString("base64"));
/** {@link same} for gRPC-Web: everything but the framing headers must match. */
const sameWeb = (what: string, path: string, headers: [string, string][], body: Uint8Array | undefined, fast: boolean) => same(what, path, headers, body, fast, false);

test("the strict rules where the schema is known (issue 17) answer alike through the fast path and the app", async () => {
  const S = "/demo.v1.EchoService/";
  const two = Buffer.concat([envelope(echoReq("a")), envelope(echoReq("b"))]);
  assert.equal((await same("unary type on a server-streaming method", S + "EchoStream", [proto], echoReq("x"), true)).status, 415);
  assert.equal((await same("JSON unary type on a client-streaming method", S + "EchoClientStream", [jsonCt], enc.encode("{}"), true)).status, 415);
  assert.equal((await same("unknown method of a known service", S + "Nope", [jsonCt], enc.encode("{}"), true)).status, 404);
  assert.equal((await same("empty body with content-encoding gzip", S + "Echo", [proto, ["content-encoding", "gzip"]], new Uint8Array(0), true)).status, 200);
  const bad = await same("invalid JSON", S + "Echo", [jsonCt], enc.encode("{"), true);
  assert.equal(bad.status, 400);
  assert.equal(bad.body.toString().match(/cannot decode/g)?.length, 1, bad.body.toString());
  for (const m of ["Echo", "EchoStream"]) {
    const r = await sameWeb(`gRPC-Web two messages to ${m}`, S + m, [gw], two, true);
    assert.ok(/grpc-status: ?12/.test(r.headers.join("\n") + r.body.toString()), r.headers.join("\n"));
  }
});

test("gRPC-Web (binary, text, JSON): success, streaming, errors and CORS answer as the app does", async () => {
  const p = "/demo.v1.EchoService/Echo";
  const ok = await sameWeb("gRPC-Web", p, [gw, ["x-grpc-web", "1"]], envelope(echoReq("header:x-a=b")), true);
  assert.equal(ok.status, 200);
  assert.ok(ok.headers.includes("x-a: b") && ok.headers.some((h) => h.startsWith("x-edge-node: ")), ok.headers.join("\n"));
  assert.ok(ok.body.includes("grpc-status:0") || ok.body.includes("grpc-status: 0"), "the trailer frame");
  await sameWeb("gRPC-Web text", p, [gwText], b64(envelope(echoReq("t"))), true);
  await sameWeb("gRPC-Web JSON", p, [["content-type", "application/grpc-web+json"]], envelope(enc.encode(JSON.stringify({ message: "j" }))), true);
  await sameWeb("gRPC-Web metadata", "/probe.v1.EchoService/Echo", [gw, ["x-room", "r1"], ["x-multi", "1"], ["X-Multi", "2"], ["cookie", "a=1"], ["authorization", "Bearer x"]], envelope(echoReq("m")), true);
  await sameWeb("gRPC-Web empty body", "/probe.v1.EchoService/Echo", [gw], new Uint8Array(0), true);
  await sameWeb("gRPC-Web client stream in one body", "/demo.v1.EchoService/EchoClientStream", [gw], Buffer.concat([envelope(echoReq("a")), envelope(echoReq("b"))]), true);
  const st = await sameWeb("gRPC-Web server stream", "/demo.v1.EchoService/EchoStream", [gw], envelope(echoReq("s", 3)), true);
  assert.ok(st.body.includes("s 2"), "every message");
  // Errors: trailers-only before any header, in the trailer frame after one.
  const e = await sameWeb("gRPC-Web backend error", "/probe.v1.EchoService/Echo", [gw], envelope(echoReq("error:7:denied here")), true);
  assert.match(e.body.toString("latin1"), /grpc-status: ?7\b/, "the status in the trailer frame (the probe sent a header first)");
  await sameWeb("gRPC-Web unknown service", "/nope.v1.Nope/Echo", [gw], envelope(echoReq("x")), true);
  await sameWeb("gRPC-Web no live node", "/ghost.v1.Ghost/Echo", [gw], envelope(echoReq("x")), true);
  await sameWeb("gRPC-Web oversized metadata", p, [gw, ["x-big", "v".repeat(2000)]], envelope(echoReq("x")), true);
  await sameWeb("gRPC-Web bad timeout", p, [gw, ["grpc-timeout", "soon"]], envelope(echoReq("x")), true);
  await sameWeb("gRPC-Web JSON without a schema", "/probe.v1.EchoService/Echo", [["content-type", "application/grpc-web+json"]], envelope(enc.encode("{}")), true);
  await sameWeb("gRPC-Web compressed without an encoding", p, [gw], Uint8Array.from([1, 0, 0, 0, 1, 0]), true);
  await sameWeb("gRPC-Web truncated envelope", p, [gw], Uint8Array.from([0, 0, 0, 0, 9, 1]), true);
  await sameWeb("gRPC-Web bad base64", p, [gwText], enc.encode("AAA*AAAA"), true);
  const d = await sameWeb("gRPC-Web deadline", p, [gw, ["grpc-timeout", "50m"]], envelope(echoReq("sleep:2000")), true);
  assert.ok(d.headers.includes("grpc-status: 4"), d.headers.join("\n"));
  const c = await sameWeb("gRPC-Web allowed origin", p, [gw, ["origin", allowed]], envelope(echoReq("header:x-c=d")), true);
  assert.ok(c.headers.includes(`access-control-allow-origin: ${allowed}`), c.headers.join("\n"));
  await sameWeb("gRPC-Web allowed origin, error", "/probe.v1.EchoService/Echo", [gw, ["origin", allowed]], envelope(echoReq("error:5:gone")), true);
  await sameWeb("gRPC-Web disallowed origin", p, [gw, ["origin", "https://evil.test"]], envelope(echoReq("x")), true);
});

test("gRPC-Web as browsers send it (fetch, Content-Length): a long stream, a reader that stops, a client that leaves", { timeout: 60_000 }, async () => {
  const before = stack.gw.gate!.served;
  const post = (path: string, body: Uint8Array<ArrayBuffer>, signal?: AbortSignal) =>
    fetch(stack.url + path, { method: "POST", headers: { "content-type": "application/grpc-web+proto", "x-grpc-web": "1" }, body, signal });
  // A stream of 2,000 messages arrives whole, in order, then the trailer frame.
  const long = new Uint8Array(await (await post("/demo.v1.EchoService/EchoStream", envelope(echoReq("st", 2000)))).arrayBuffer());
  const frames = envelopes(long);
  assert.equal(frames.length, 2001);
  assert.equal(frames.at(-1)!.flags, 0x80);
  assert.match(new TextDecoder().decode(frames.at(-1)!.data), /grpc-status: ?0/);

  // Nobody reads a big stream: Node's buffer passes the mark, writes wait, the backend is cancelled
  // RESOURCE_EXHAUSTED long before it has sent everything; reading later gives the messages, then the error.
  const res = await post("/probe.v1.EchoService/EchoStream", envelope(echoReq("big:16384", 10_000)));
  assert.equal(res.status, 200);
  const c = await probe.call("EchoStream", "big:16384");
  await eventually(() => c.signal.aborted && c.done, 30_000, "backend cancelled");
  assert.equal(abortCode(c.signal), Code.ResourceExhausted);
  assert.ok(c.sent < 10_000, `the backend stopped early (${c.sent} sent)`);
  const body = new Uint8Array(await res.arrayBuffer());
  assert.ok(body.length < 64 * 1024 * 1024, `delivered ${body.length} bytes`);
  const got = envelopes(body);
  assert.match(new TextDecoder().decode(got.at(-1)!.data), new RegExp(`grpc-status: ?${Code.ResourceExhausted}\\b`));

  // A client that goes away mid-stream cancels the call at the backend.
  const ac = new AbortController();
  const gone = await post("/probe.v1.EchoService/EchoStream", envelope(echoReq("big:16383", 10_000)), ac.signal);
  const g = await probe.call("EchoStream", "big:16383");
  await within(gone.body!.getReader().read(), 10_000, "the first bytes of the stream");
  ac.abort();
  await eventually(() => g.signal.aborted && g.done, 30_000, "backend cancelled after the client left");
  assert.equal(abortCode(g.signal), Code.Canceled);
  assert.equal(stack.gw.gate!.served - before, 3);
  await eventually(() => stack.gw.gateway.director.inFlight === 0, 10_000, "in-flight 0");
});

test("connect-es over HTTP/1.1 goes through the fast path", async () => {
  const before = stack.gw.gate!.served;
  const client = createClient(EchoService, createConnectTransport({ baseUrl: stack.url, httpVersion: "1.1" }));
  assert.equal((await client.echo({ message: "es" })).message, "es");
  const jsonClient = createClient(EchoService, createConnectTransport({ baseUrl: stack.url, httpVersion: "1.1", useBinaryFormat: false }));
  assert.equal((await jsonClient.echo({ message: "es-json" })).message, "es-json");
  assert.equal(stack.gw.gate!.served - before, 2);
});

test("every path character the fast path takes reaches the same answer through the app", async () => {
  for (const c of "-._~!$&'()*+,;=:@") {
    await same(`method with ${c}`, `/demo.v1.EchoService/Ec${c}ho`, [proto], echoReq("x"), true);
    await same(`service with ${c}`, `/demo.v1${c}EchoService/Echo`, [proto], echoReq("x"), true);
  }
});

/**
 * Over one raw connection: a body over the message limit (all of it sent), then, once its answer is
 * in, a small call. Returns the statuses answered and whether the gateway closed the connection.
 */
function refusedThenNext(port: number, bodyBytes: number): Promise<{ statuses: string[]; closedByServer: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    const next = echoReq("next");
    let buf = "";
    let statuses: string[] = [];
    let closedByServer = true;
    const giveUp = setTimeout(() => {
      closedByServer = false;
      s.destroy();
    }, 1500);
    s.on("data", (d: Buffer) => {
      buf += d.toString("latin1");
      const before = statuses.length;
      statuses = [...buf.matchAll(/HTTP\/1\.1 (\d+)/g)].map((m) => m[1]!);
      if (before === 0 && statuses.length === 1) {
        s.write(`POST /demo.v1.EchoService/Echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/proto\r\ncontent-length: ${next.length}\r\n\r\n`);
        s.write(next);
      }
    });
    s.on("error", () => {});
    s.on("close", () => {
      clearTimeout(giveUp);
      resolve({ statuses, closedByServer });
    });
    s.write(`POST /demo.v1.EchoService/Echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/proto\r\ncontent-length: ${bodyBytes}\r\n\r\n`);
    s.write(Buffer.alloc(bodyBytes));
  });
}

test("a refused oversized body: keep-alive when the rest is small, the connection closed when it is far over (8 MiB)", async () => {
  for (const [bytes, expected] of [
    [200_000, { statuses: ["429", "200"], closedByServer: false }],
    [10_000_000, { statuses: ["429"], closedByServer: true }],
  ] as const) {
    const served = stack.gw.gate!.served;
    assert.deepEqual(await refusedThenNext(stack.gw.port, bytes), expected, `fast path, ${bytes} bytes`);
    assert.ok(stack.gw.gate!.served > served);
    assert.deepEqual(await refusedThenNext(slow.port, bytes), expected, `app, ${bytes} bytes`);
  }
});

test("a client that goes away cancels the call at the backend", async () => {
  const req = http.request({ host: "127.0.0.1", port: stack.gw.port, path: "/probe.v1.EchoService/Echo", method: "POST", agent: false, headers: { "content-type": "application/proto" } });
  req.on("error", () => {});
  const served = stack.gw.gate!.served;
  req.end(echoReq("sleep:30000"));
  const call = await probe.call("Echo", "sleep:30000");
  assert.equal(stack.gw.gate!.served - served, 1);
  req.destroy();
  await eventually(() => call.signal.aborted, 5000, "the backend's call cancelled");
});

// ---------------------------------------------------------------------------------------------
// HTTP/2 (h2c): the gate takes Connect and gRPC-Web from the raw stream, as it takes HTTP/1.1.

interface RawH2Response {
  status: number;
  /** Header fields as `name: value`, sorted (HTTP/2 gives no meaning to their order), without Date. */
  headers: string[];
  /** HTTP trailers as `name: value` (none for Connect and gRPC-Web). */
  trailers: string[];
  body: Buffer;
}

const h2 = new H2Sessions();
after(() => h2.close());

const h2Lines = (h: http2.IncomingHttpHeaders) =>
  Object.entries(h)
    .filter(([k]) => !k.startsWith(":") && k !== "date")
    .flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => `${k}: ${x}`) : [`${k}: ${v}`]))
    .sort();

/** One request on a shared h2c session to `base`; `headers` may repeat a name (sent as a list). */
async function rawH2(base: string, path: string, headers: [string, string][], body?: Uint8Array, method = "POST", authority?: string): Promise<RawH2Response> {
  const out: http2.OutgoingHttpHeaders = { ":method": method, ":path": path };
  if (authority !== undefined) out[":authority"] = authority;
  for (const [k, v] of headers) {
    const n = k.toLowerCase();
    const cur = out[n];
    out[n] = cur === undefined ? v : Array.isArray(cur) ? [...cur, v] : [String(cur), v];
  }
  const a = await h2.exchange(base, out, body);
  return { status: a.status, headers: h2Lines(a.head), trailers: h2Lines(a.trailers), body: a.body };
}

/**
 * {@link same} over h2c: the same request to the gateway with the gate and to the one without (the
 * app through @hono/node-server); status, header fields, trailers, body and what the backend received
 * must be equal, and the gate must have served it (or not).
 */
async function sameH2(what: string, path: string, headers: [string, string][], body: Uint8Array | undefined, gate: boolean, framing = true, method = "POST", authority?: string): Promise<RawH2Response> {
  const served = stack.gw.gate!.served;
  const probeCalls = probe.calls.length;
  const a = await rawH2(stack.url, path, headers, body, method, authority);
  const aCall = probe.calls.length > probeCalls ? probe.calls.at(-1) : undefined;
  const b = await rawH2(slow.url, path, headers, body, method, authority);
  const bCall = probe.calls.length > probeCalls + (aCall ? 1 : 0) ? probe.calls.at(-1) : undefined;
  assert.equal(stack.gw.gate!.served - served, gate ? 1 : 0, `${what}: served by the gate: ${gate}`);
  assert.equal(a.status, b.status, `${what}: status`);
  const framed = (h: string[]) => (framing ? h : h.filter((l) => !/^content-length:/.test(l)));
  assert.deepEqual(framed(a.headers), framed(b.headers), `${what}: headers`);
  assert.deepEqual(a.trailers, b.trailers, `${what}: trailers`);
  assert.deepEqual(a.body, b.body, `${what}: body`);
  sameBackendRecord(what, aCall, bCall);
  return a;
}

test("h2c: Connect and gRPC-Web go through the gate and answer as the app does", async () => {
  const p = "/demo.v1.EchoService/Echo";
  const ok = await sameH2("Connect unary", p, [proto, ["connect-protocol-version", "1"]], echoReq("header:x-a=b"), true);
  assert.equal(ok.status, 200);
  assert.ok(ok.headers.includes("x-a: b") && ok.headers.includes("trailer-x-a-trailer: b"), ok.headers.join("\n"));
  await sameH2("Connect unary, probe metadata", "/probe.v1.EchoService/Echo", [proto, ["x-room", "r1"], ["x-multi", "1"], ["x-multi", "2"], ["cookie", "a=1"], ["authorization", "Bearer x"]], echoReq("m"), true);
  await sameH2("Connect JSON", p, [jsonCt], enc.encode(JSON.stringify({ message: "j" })), true);
  await sameH2("Connect backend error", "/probe.v1.EchoService/Echo", [proto], echoReq("error:7:denied here"), true);
  await sameH2("Connect unknown service", "/nope.v1.Nope/Echo", [proto], echoReq("x"), true);
  await sameH2("Connect oversized message", p, [proto], echoReq("x".repeat(5000)), true);
  await sameH2("Connect bad JSON", p, [jsonCt], enc.encode("{nope"), true);
  await sameH2("Connect deadline", p, [proto, ["connect-timeout-ms", "50"]], echoReq("sleep:2000"), true);
  await sameH2("Connect gzip both ways", p, [proto, ["content-encoding", "gzip"], ["accept-encoding", "gzip"]], gzipSync(echoReq("z".repeat(2000))), true);
  const cors = await sameH2("Connect, allowed origin", p, [proto, ["origin", allowed]], echoReq("header:x-c=d"), true);
  assert.ok(cors.headers.includes(`access-control-allow-origin: ${allowed}`), cors.headers.join("\n"));
  assert.equal((await sameH2("Connect, disallowed origin", p, [proto, ["origin", "https://evil.test"]], echoReq("x"), true)).status, 403);
  assert.equal((await sameH2("Connect, same origin", p, [proto, ["origin", "http://gw.test"]], echoReq("x"), true, true, "POST", "gw.test")).status, 200);
  const msg = encodeURIComponent(JSON.stringify({ message: "g" }));
  await sameH2("Connect GET", `${p}?encoding=json&message=${msg}`, [], undefined, true, true, "GET");
  await sameH2("PUT on a known method", p, [proto], echoReq("x"), true, true, "PUT");
  await sameH2("unary type on a streaming method", "/demo.v1.EchoService/EchoStream", [proto], echoReq("x"), true);
  // Streams: no HTTP trailers through either path (Connect and gRPC-Web carry their status in the body).
  const stream: [string, string] = ["content-type", "application/connect+proto"];
  const s = await sameH2("Connect server stream", "/demo.v1.EchoService/EchoStream", [stream], envelope(echoReq("s", 3)), true, false);
  assert.equal(envelopes(s.body).length, 4);
  assert.deepEqual(s.trailers, []);
  await sameH2("Connect client stream", "/probe.v1.EchoService/EchoClientStream", [stream], Buffer.concat([envelope(echoReq("a")), envelope(echoReq("b"))]), true, false);
  await sameH2("Connect bidi", "/probe.v1.EchoService/EchoBidi", [stream], Buffer.concat([envelope(echoReq("a")), envelope(echoReq("b"))]), true, false);
  await sameH2("Connect stream error", "/probe.v1.EchoService/EchoStream", [stream], envelope(echoReq("error:5:gone")), true, false);
  const web = await sameH2("gRPC-Web", p, [gw], envelope(echoReq("w")), true, false);
  assert.match(web.body.toString("latin1"), /grpc-status: ?0/);
  await sameH2("gRPC-Web server stream", "/demo.v1.EchoService/EchoStream", [gw], envelope(echoReq("s", 3)), true, false);
  await sameH2("gRPC-Web text", p, [gwText], b64(envelope(echoReq("t"))), true, false);
  await sameH2("gRPC-Web backend error", "/probe.v1.EchoService/Echo", [gw, ["origin", allowed]], envelope(echoReq("error:7:denied")), true, false);
  // Native gRPC is the gate's too, on any path, as the dispatcher decides it first (without the gate
  // the one-port server serves it): the same answers, with real trailers.
  const grpc: [string, string][] = [["content-type", "application/grpc"], ["te", "trailers"]];
  const g = await sameH2("native gRPC", p, grpc, envelope(echoReq("n")), true);
  assert.ok(g.trailers.includes("grpc-status: 0"), g.trailers.join("\n"));
  await sameH2("native gRPC server stream", "/demo.v1.EchoService/EchoStream", grpc, envelope(echoReq("s", 3)), true);
  await sameH2("native gRPC backend error", "/probe.v1.EchoService/Echo", grpc, envelope(echoReq("error:7:denied")), true);
  await sameH2("native gRPC on an odd path", "/demo.v1.EchoService/Ech%6F", grpc, envelope(echoReq("x")), true);
  await sameH2("native gRPC GET", p, grpc, undefined, true, true, "GET");
});

test("h2c: what the app serves stays the app's (static files, preflights, HEAD, odd paths and authorities)", async () => {
  const p = "/demo.v1.EchoService/Echo";
  await sameH2("GET of a static file", "/vendor/x.js", [], undefined, false, true, "GET");
  await sameH2("OPTIONS preflight", p, [["origin", allowed], ["access-control-request-method", "POST"]], undefined, false, true, "OPTIONS");
  await sameH2("HEAD", p, [], undefined, false, true, "HEAD");
  await sameH2("PUT on an unknown service", "/nope.v1.Nope/Echo", [proto], echoReq("x"), false, true, "PUT");
  await sameH2("encoded path", "/demo.v1.EchoService/Ech%6F", [proto], echoReq("x"), false);
  await sameH2("odd authority", p, [proto], echoReq("x"), false, true, "POST", "0x7f.1");
  await sameH2("/healthz", "/healthz", [], undefined, false, true, "GET");
});

test("h2c: a client that resets its stream cancels the call at the backend (CANCELLED, never a half-close)", async () => {
  const served = stack.gw.gate!.served;
  const session = h2.get(stack.url);
  // Connect unary: the call is at the backend, then RST_STREAM(CANCEL).
  const unary = session.request({ ":method": "POST", ":path": "/probe.v1.EchoService/Echo", "content-type": "application/proto" });
  unary.on("error", () => {});
  unary.end(echoReq("sleep:30000"));
  const u = await probe.call("Echo", "sleep:30000");
  unary.close(http2.constants.NGHTTP2_CANCEL);
  await eventually(() => u.signal.aborted, 5000, "the unary call cancelled at the backend");
  assert.equal(abortCode(u.signal), Code.Canceled);
  // Connect client stream: one message, no END_STREAM, then the reset: the node must not see the end
  // of its request stream (it would answer), but a cancellation.
  // `waitForTrailers` keeps Node's `close()` from sending END_STREAM before its RST_STREAM (see
  // lazy-open.test.ts): the reset alone, as browsers send it.
  const cs = session.request({ ":method": "POST", ":path": "/probe.v1.EchoService/EchoClientStream", "content-type": "application/connect+proto" }, { endStream: false, waitForTrailers: true });
  cs.on("wantTrailers", () => cs.sendTrailers({}));
  cs.on("error", () => {});
  cs.write(envelope(echoReq("reset-me")));
  const c = await probe.call("EchoClientStream", "reset-me");
  cs.close(http2.constants.NGHTTP2_CANCEL);
  await eventually(() => c.signal.aborted && c.done, 5000, "the client-stream call cancelled at the backend");
  assert.equal(abortCode(c.signal), Code.Canceled);
  assert.equal(c.sent, 0, "the node never answered: its request stream did not end");
  assert.equal(stack.gw.gate!.served - served, 2);
  await eventually(() => stack.gw.gateway.director.inFlight === 0, 10_000, "in-flight 0");
});
