/**
 * Connect protocol through a real HTTP server: connect-node clients (HTTP/1.1 and h2c), raw fetch for
 * GET and JSON, errors, deadlines, limits, gzip.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { create, toBinary, fromBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { EchoService, EchoRequestSchema, EchoResponseSchema } from "../../src/gen/demo/v1/echo_pb.js";
import { envelopes } from "../helpers/grpc-web.js";
import { echoServersPerFile } from "../helpers/protocol-server.js";
import { base64Encode } from "../../src/protocol/base64.js";
import { encodeEnvelope } from "../../src/protocol/envelope.js";

const servers = echoServersPerFile();
const echo = servers.echo;

const client1 = () => createClient(EchoService, createConnectTransport({ baseUrl: servers.srv.http1Url, httpVersion: "1.1" }));
const client2 = () => createClient(EchoService, createConnectTransport({ baseUrl: servers.srv.h2Url, httpVersion: "2", sessionManager: servers.h2 }));

async function* gen<T>(items: T[], gapMs = 0): AsyncIterable<T> {
  for (const i of items) {
    if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
    yield i;
  }
}

test("unary over HTTP/1.1 (connect-node)", async () => {
  const r = await client1().echo({ message: "hello" });
  assert.equal(r.message, "hello");
  assert.equal(r.node, "test");
  const rec = echo.calls.at(-1)!;
  assert.equal(rec.call.protocol, "connect");
  assert.equal(rec.call.shape, "unary");
  assert.equal(rec.call.path, "/demo.v1.EchoService/Echo");
});

test("unary over HTTP/2 h2c, headers and trailers reach the client", async () => {
  let header: Headers | undefined;
  let trailer: Headers | undefined;
  const r = await client2().echo(
    { message: "h2" },
    { headers: { "x-test-mode": "meta", "x-custom": "v1" }, onHeader: (h) => (header = h), onTrailer: (t) => (trailer = t) },
  );
  assert.equal(r.message, "h2");
  assert.equal(header?.get("x-header"), "h");
  assert.equal(header?.get("x-echo-x-custom"), "v1");
  assert.equal(header?.get("x-echo-connect-protocol-version"), null, "connect-* headers are not metadata");
  assert.equal(header?.get("x-echo-content-type"), null, "content-type is not metadata");
  assert.equal(trailer?.get("x-trailer"), "t");
});

test("server streaming over HTTP/1.1", async () => {
  const got: string[] = [];
  for await (const r of client1().echoStream({ message: "s", repeat: 4 })) got.push(r.message);
  assert.deepEqual(got, ["s 0", "s 1", "s 2", "s 3"]);
});

test("client streaming over HTTP/1.1 and HTTP/2", async () => {
  const r1 = await client1().echoClientStream(gen([{ message: "a" }, { message: "b" }, { message: "c" }]));
  assert.equal(r1.message, "a b c");
  const r2 = await client2().echoClientStream(gen([{ message: "x" }, { message: "y" }], 2));
  assert.equal(r2.message, "x y");
});

test("bidi over HTTP/2 is full-duplex: each reply arrives before the next request is sent", { timeout: 10_000 }, async () => {
  const client = client2();
  const replies: string[] = [];
  let sendNext!: () => void;
  const outgoing = (async function* () {
    for (const m of ["one", "two", "three"]) {
      yield { message: m };
      await new Promise<void>((r) => (sendNext = r)); // wait for the reply before sending more
    }
  })();
  for await (const r of client.echoBidi(outgoing)) {
    replies.push(r.message);
    sendNext();
  }
  assert.deepEqual(replies, ["one", "two", "three"]);
});

test("error statuses map to Connect codes (unary and streaming), with trailers", async () => {
  for (const code of [Code.PermissionDenied, Code.NotFound, Code.Unavailable, Code.Unauthenticated, Code.ResourceExhausted]) {
    await assert.rejects(
      client1().echo({ message: "x" }, { headers: { "x-test-mode": "fail", "x-fail-code": String(code), "x-fail-message": encodeURIComponent("nope ü") } }),
      (e: unknown) => e instanceof ConnectError && e.code === code && e.rawMessage === "nope ü" && e.metadata.get("x-trailer") === "t",
    );
  }
  await assert.rejects(
    (async () => {
      for await (const _ of client1().echoStream({ message: "x" }, { headers: { "x-test-mode": "fail", "x-fail-code": "5" } }));
    })(),
    (e: unknown) => e instanceof ConnectError && e.code === Code.NotFound && e.metadata.get("x-trailer") === "t",
  );
});

test("an error while the client is still sending (HTTP/1.1 client stream) reaches the client", { timeout: 10_000 }, async () => {
  const slow = (async function* () {
    yield { message: "first" };
    await new Promise((r) => setTimeout(r, 200));
    yield { message: "late" };
  })();
  await assert.rejects(
    client1().echoClientStream(slow, { headers: { "x-test-mode": "fail", "x-fail-after-read": "1", "x-fail-code": "9" } }),
    (e: unknown) => e instanceof ConnectError && e.code === Code.FailedPrecondition,
  );
});

test("unary error: HTTP status and JSON body on the wire", async () => {
  const res = await fetch(`${servers.srv.http1Url}/demo.v1.EchoService/Echo`, {
    method: "POST",
    headers: { "content-type": "application/proto", "x-test-mode": "fail", "x-fail-code": "7", "x-fail-message": "denied" },
    body: toBinary(EchoRequestSchema, create(EchoRequestSchema, { message: "x" })),
  });
  assert.equal(res.status, 403);
  assert.equal(res.headers.get("content-type"), "application/json");
  assert.equal(res.headers.get("trailer-x-trailer"), "t");
  assert.deepEqual(await res.json(), { code: "permission_denied", message: "denied" });
});

test("deadline: Connect-Timeout-Ms becomes call.timeoutMs; the service's DEADLINE_EXCEEDED reaches the client", async () => {
  const next = echo.nextCall();
  await assert.rejects(
    client1().echo({ message: "x" }, { timeoutMs: 150, headers: { "x-test-mode": "sleep" } }),
    (e: unknown) => e instanceof ConnectError && e.code === Code.DeadlineExceeded,
  );
  const rec = await next;
  assert.ok(rec.call.timeoutMs !== undefined && rec.call.timeoutMs > 0 && rec.call.timeoutMs <= 150, `timeoutMs=${rec.call.timeoutMs}`);
});

test("invalid Connect-Timeout-Ms is INVALID_ARGUMENT, and the handler never runs", async () => {
  const n = echo.calls.length;
  const res = await fetch(`${servers.srv.http1Url}/demo.v1.EchoService/Echo`, {
    method: "POST",
    headers: { "content-type": "application/proto", "connect-timeout-ms": "12x" },
    body: new Uint8Array(0),
  });
  assert.equal(res.status, 400);
  assert.equal(((await res.json()) as { code: string }).code, "invalid_argument");
  assert.equal(echo.calls.length, n);
});

test("client cancel of a stream aborts the call's signal", { timeout: 10_000 }, async () => {
  const next = echo.nextCall();
  const ac = new AbortController();
  const p = (async () => {
    for await (const _ of client2().echoStream({ message: "x" }, { signal: ac.signal, headers: { "x-test-mode": "sleep" } }));
  })();
  const rec = await next;
  ac.abort();
  await assert.rejects(p, (e: unknown) => ConnectError.from(e).code === Code.Canceled);
  await rec.done;
  assert.ok(rec.aborted instanceof ConnectError && rec.aborted.code === Code.Canceled, String(rec.aborted));
});

test("oversized unary message: RESOURCE_EXHAUSTED, the handler never runs", async () => {
  const n = echo.calls.length;
  await assert.rejects(client1().echo({ message: "x".repeat(70 * 1024) }), (e: unknown) => e instanceof ConnectError && e.code === Code.ResourceExhausted);
  assert.equal(echo.calls.length, n);
});

test("oversized streaming message: RESOURCE_EXHAUSTED, the handler never sees it", async () => {
  const next = echo.nextCall();
  await assert.rejects(
    client1().echoClientStream(gen([{ message: "small" }, { message: "x".repeat(70 * 1024) }, { message: "after" }])),
    (e: unknown) => e instanceof ConnectError && e.code === Code.ResourceExhausted,
  );
  const rec = await next;
  await rec.done;
  assert.deepEqual(rec.requests.map((r) => r.message), ["small"]);
  assert.equal(rec.requestError?.code, Code.ResourceExhausted);
  assert.ok(rec.aborted instanceof ConnectError && rec.aborted.code === Code.ResourceExhausted);
});

test("oversized metadata: RESOURCE_EXHAUSTED", async () => {
  const n = echo.calls.length;
  await assert.rejects(client1().echo({ message: "x" }, { headers: { "x-big": "v".repeat(3000) } }), (e: unknown) => e instanceof ConnectError && e.code === Code.ResourceExhausted);
  assert.equal(echo.calls.length, n);
});

test("unary GET with base64 proto message, and with JSON", async () => {
  const msg = toBinary(EchoRequestSchema, create(EchoRequestSchema, { message: "got" }));
  const res = await fetch(`${servers.srv.http1Url}/demo.v1.EchoService/Echo?connect=v1&encoding=proto&base64=1&message=${base64Encode(msg, { url: true })}`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/proto");
  assert.equal(fromBinary(EchoResponseSchema, new Uint8Array(await res.arrayBuffer())).message, "got");
  const res2 = await fetch(`${servers.srv.http1Url}/demo.v1.EchoService/Echo?encoding=json&message=${encodeURIComponent('{"message":"j"}')}&connect=v1&unknown=1`);
  assert.equal(res2.status, 200);
  assert.deepEqual(await res2.json(), { message: "j", node: "test" });
});

test("unary JSON POST with a schema; 415 + invalid_argument without one", async () => {
  const res = await fetch(`${servers.srv.http1Url}/demo.v1.EchoService/Echo`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ message: "json" }),
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/json");
  assert.deepEqual(await res.json(), { message: "json", node: "test" });
  const res2 = await fetch(`${servers.srv.http1Url}/other.v1.Svc/Method`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
  assert.equal(res2.status, 415);
  const body = (await res2.json()) as { code: string; message: string };
  assert.equal(body.code, "invalid_argument");
  assert.match(body.message, /JSON is not available for \/other\.v1\.Svc\/Method/);
  const res3 = await fetch(`${servers.srv.http1Url}/demo.v1.EchoService/Echo`, { method: "POST", headers: { "content-type": "text/plain" }, body: "x" });
  assert.equal(res3.status, 415);
});

test("streaming JSON (application/connect+json) over raw fetch", async () => {
  const enc = new TextEncoder();
  const res = await fetch(`${servers.srv.http1Url}/demo.v1.EchoService/EchoStream`, {
    method: "POST",
    headers: { "content-type": "application/connect+json" },
    body: encodeEnvelope(0, enc.encode(JSON.stringify({ message: "js", repeat: 2 }))),
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/connect+json");
  const b = new Uint8Array(await res.arrayBuffer());
  const frames = envelopes(b).map((e) => ({ flags: e.flags, text: new TextDecoder().decode(e.data) }));
  assert.deepEqual(frames, [
    { flags: 0, text: '{"message":"js 0","node":"test"}' },
    { flags: 0, text: '{"message":"js 1","node":"test"}' },
    { flags: 2, text: "{}" },
  ]);
});

test("gzip both ways: gzipped request body, gzipped response when accepted", async () => {
  const big = "z".repeat(4000);
  const body = new Uint8Array(
    await new Response(new Blob([toBinary(EchoRequestSchema, create(EchoRequestSchema, { message: big }))]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer(),
  );
  const res = await fetch(`${servers.srv.http1Url}/demo.v1.EchoService/Echo`, {
    method: "POST",
    headers: { "content-type": "application/proto", "content-encoding": "gzip", "accept-encoding": "gzip" },
    body,
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-encoding"), "gzip"); // fetch decodes it transparently
  assert.equal(fromBinary(EchoResponseSchema, new Uint8Array(await res.arrayBuffer())).message, big);
  // connect-node with its gzip: response compressed and decompressed end to end
  const r = await client2().echo({ message: big });
  assert.equal(r.message, big);
  // streaming: per-message compression, connect-node sends gzip when asked
  const t = createConnectTransport({ baseUrl: servers.srv.h2Url, httpVersion: "2", sessionManager: servers.h2, sendCompression: (await import("@connectrpc/connect-node")).compressionGzip, compressMinBytes: 10 });
  const r2 = await createClient(EchoService, t).echoClientStream(gen([{ message: big }, { message: "y" }]));
  assert.equal(r2.message, big + " y");
});

test("unsupported content-encoding: UNIMPLEMENTED", async () => {
  const res = await fetch(`${servers.srv.http1Url}/demo.v1.EchoService/Echo`, {
    method: "POST",
    headers: { "content-type": "application/proto", "content-encoding": "br" },
    body: new Uint8Array(0),
  });
  assert.equal(res.status, 501);
  assert.equal(((await res.json()) as { code: string }).code, "unimplemented");
});

test("a non-ASCII metadata value over HTTP is rejected (INVALID_ARGUMENT)", async () => {
  // fetch refuses such headers, so send raw bytes (CR/LF inside values: see the header-block and grpc-websockets tests)
  const net = await import("node:net");
  const url = new URL(servers.srv.http1Url);
  const reply = await new Promise<string>((resolve, reject) => {
    const s = net.connect(Number(url.port), url.hostname, () => {
      s.write(
        "POST /demo.v1.EchoService/Echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/proto\r\nContent-Length: 0\r\nX-Bad: a\xe9b\r\nConnection: close\r\n\r\n",
        "latin1",
      );
    });
    let out = "";
    s.on("data", (d) => (out += d.toString("latin1")));
    s.on("end", () => resolve(out));
    s.on("error", reject);
  });
  assert.match(reply, /^HTTP\/1\.1 400/);
  assert.match(reply, /invalid_argument/);
});
