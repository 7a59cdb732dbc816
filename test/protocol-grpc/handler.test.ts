/**
 * Native gRPC over h2c with connect-node's gRPC transport against createGrpcH2cServer: all four call
 * kinds, HTTP/2 trailers, trailers-only errors, deadlines, cancel, limits, JSON, backpressure — and the
 * same port serving HTTP/1.1.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport, createConnectTransport, compressionGzip } from "@connectrpc/connect-node";
import { EchoService, EchoRequestSchema } from "../../src/gen/demo/v1/echo_pb.js";
import { eventually } from "../helpers/wait.js";
import { echoServersPerFile } from "../helpers/protocol-server.js";
import { encodeEnvelope } from "../../src/protocol/envelope.js";

const servers = echoServersPerFile();
const echo = servers.echo;

const client = (json = false) => createClient(EchoService, createGrpcTransport({ baseUrl: servers.srv.h2Url, sessionManager: servers.h2, useBinaryFormat: !json }));

async function* gen<T>(items: T[]): AsyncIterable<T> {
  for (const i of items) yield i;
}

test("unary, with headers and HTTP/2 trailers", async () => {
  let header: Headers | undefined;
  let trailer: Headers | undefined;
  const r = await client().echo({ message: "g" }, { headers: { "x-test-mode": "meta", "x-k": "v" }, onHeader: (h) => (header = h), onTrailer: (t) => (trailer = t) });
  assert.equal(r.message, "g");
  assert.equal(r.node, "test");
  assert.equal(header?.get("x-header"), "h");
  assert.equal(header?.get("x-echo-x-k"), "v");
  assert.equal(header?.get("x-echo-te"), null, "te is not metadata");
  assert.equal(header?.get("content-type"), "application/grpc+proto");
  assert.equal(trailer?.get("x-trailer"), "t");
  assert.equal(trailer?.get("grpc-status"), "0");
  const rec = echo.calls.at(-1)!;
  assert.equal(rec.call.protocol, "grpc");
  assert.equal(rec.call.path, "/demo.v1.EchoService/Echo");
});

test("server streaming", async () => {
  const got: string[] = [];
  for await (const r of client().echoStream({ message: "s", repeat: 5 })) got.push(r.message);
  assert.deepEqual(got, ["s 0", "s 1", "s 2", "s 3", "s 4"]);
});

test("client streaming", async () => {
  const r = await client().echoClientStream(gen([{ message: "a" }, { message: "b" }, { message: "c" }]));
  assert.equal(r.message, "a b c");
});

test("bidi is full-duplex", { timeout: 10_000 }, async () => {
  const replies: string[] = [];
  let sendNext!: () => void;
  const outgoing = (async function* () {
    for (const m of ["1", "2", "3", "4"]) {
      yield { message: m };
      await new Promise<void>((r) => (sendNext = r));
    }
  })();
  for await (const r of client().echoBidi(outgoing)) {
    replies.push(r.message);
    sendNext();
  }
  assert.deepEqual(replies, ["1", "2", "3", "4"]);
});

test("compressed requests (grpc-encoding: gzip) are inflated", async () => {
  const c = createClient(EchoService, createGrpcTransport({ baseUrl: servers.srv.h2Url, sessionManager: servers.h2, sendCompression: compressionGzip, compressMinBytes: 1 }));
  const big = "q".repeat(5000);
  const r = await c.echoClientStream(gen([{ message: big }, { message: "z" }]));
  assert.equal(r.message, big + " z");
});

test("JSON (application/grpc+json)", async () => {
  const r = await client(true).echo({ message: "json" });
  assert.equal(r.message, "json");
});

test("errors: trailers-only and after a header, status and trailers map", async () => {
  for (const after of ["0", "1"]) {
    for (const code of [Code.PermissionDenied, Code.NotFound, Code.Unauthenticated, Code.Unavailable]) {
      await assert.rejects(
        client().echo({ message: "x" }, { headers: { "x-test-mode": "fail", "x-fail-code": String(code), "x-fail-after-header": after, "x-fail-message": encodeURIComponent("no ü") } }),
        (e: unknown) => e instanceof ConnectError && e.code === code && e.rawMessage === "no ü" && e.metadata.get("x-trailer") === "t",
      );
    }
  }
  // on the wire: trailers-only is one HEADERS frame with END_STREAM
  const s = http2.connect(servers.srv.h2Url);
  try {
    const req = s.request({ ":method": "POST", ":path": "/demo.v1.EchoService/Echo", "content-type": "application/grpc", te: "trailers", "x-test-mode": "fail", "x-fail-code": "7" });
    req.end(encodeEnvelope(0, toBinary(EchoRequestSchema, create(EchoRequestSchema, { message: "x" }))));
    const [headers, flags] = await new Promise<[http2.IncomingHttpHeaders, number]>((resolve) => req.once("response", (h, f) => resolve([h, f])));
    assert.equal(headers["grpc-status"], "7");
    assert.equal(headers["grpc-message"], "failed");
    assert.ok(flags & http2.constants.NGHTTP2_FLAG_END_STREAM, "END_STREAM on the headers");
  } finally {
    s.close();
  }
});

test("grpc-timeout becomes call.timeoutMs; invalid grpc-timeout is INVALID_ARGUMENT", async () => {
  const next = echo.nextCall();
  await assert.rejects(client().echo({ message: "x" }, { timeoutMs: 100, headers: { "x-test-mode": "sleep" } }), (e: unknown) => ConnectError.from(e).code === Code.DeadlineExceeded);
  const rec = await next;
  assert.ok(rec.call.timeoutMs !== undefined && rec.call.timeoutMs <= 100 && rec.call.timeoutMs > 0);
  const s = http2.connect(servers.srv.h2Url);
  try {
    const req = s.request({ ":method": "POST", ":path": "/demo.v1.EchoService/Echo", "content-type": "application/grpc", "grpc-timeout": "99999999999S" });
    req.end();
    const headers = await new Promise<http2.IncomingHttpHeaders>((resolve) => req.once("response", resolve));
    assert.equal(headers["grpc-status"], String(Code.InvalidArgument));
  } finally {
    s.close();
  }
});

test("client cancel (RST_STREAM) aborts the call's signal at once", { timeout: 10_000 }, async () => {
  const next = echo.nextCall();
  const ac = new AbortController();
  const p = (async () => {
    for await (const _ of client().echoBidi(gen([{ message: "x" }]), { signal: ac.signal, headers: { "x-test-mode": "sleep" } }));
  })();
  const rec = await next;
  ac.abort();
  await assert.rejects(p, (e: unknown) => ConnectError.from(e).code === Code.Canceled);
  await rec.done;
  assert.ok(rec.aborted instanceof ConnectError && rec.aborted.code === Code.Canceled, String(rec.aborted));
});

test("oversized message and metadata: RESOURCE_EXHAUSTED", async () => {
  const next = echo.nextCall();
  await assert.rejects(client().echoClientStream(gen([{ message: "ok" }, { message: "x".repeat(70 * 1024) }])), (e: unknown) => ConnectError.from(e).code === Code.ResourceExhausted);
  const rec = await next;
  await rec.done;
  assert.deepEqual(rec.requests.map((r) => r.message), ["ok"]);
  const n = echo.calls.length;
  await assert.rejects(client().echo({ message: "x" }, { headers: { "x-big": "v".repeat(3000) } }), (e: unknown) => ConnectError.from(e).code === Code.ResourceExhausted);
  assert.equal(echo.calls.length, n);
});

test("backpressure: a client that never reads (HTTP/2 flow control) stalls responder.message()", { timeout: 20_000 }, async () => {
  const next = echo.nextCall();
  const s = http2.connect(servers.srv.h2Url);
  try {
    const req = s.request({ ":method": "POST", ":path": "/demo.v1.EchoService/EchoStream", "content-type": "application/grpc", "x-test-mode": "flood" });
    req.end(encodeEnvelope(0, toBinary(EchoRequestSchema, create(EchoRequestSchema, { message: "x" }))));
    req.pause(); // never read: the stream's flow-control window closes
    const rec = await next;
    await eventually(() => rec.stalledAt !== undefined, 15_000, "responder.message() to stall");
    const stalledAt = rec.stalledAt!;
    assert.ok(stalledAt * 8 * 1024 < 8 * 1024 * 1024, `stalled after ${stalledAt} messages`);
    assert.equal(rec.pendingSettled, false);
    req.close(http2.constants.NGHTTP2_CANCEL);
    await rec.done;
    assert.ok(rec.aborted instanceof ConnectError && rec.aborted.code === Code.Canceled);
  } finally {
    s.destroy();
  }
});

test("the same port serves HTTP/1.1 and h2c Connect through the Hono fallback", async () => {
  const r1 = await createClient(EchoService, createConnectTransport({ baseUrl: servers.srv.h2Url, httpVersion: "1.1" })).echo({ message: "h1" });
  assert.equal(r1.message, "h1");
  assert.equal(echo.calls.at(-1)!.call.protocol, "connect");
  const r2 = await createClient(EchoService, createConnectTransport({ baseUrl: servers.srv.h2Url, httpVersion: "2", sessionManager: servers.h2 })).echo({ message: "h2" });
  assert.equal(r2.message, "h2");
});
