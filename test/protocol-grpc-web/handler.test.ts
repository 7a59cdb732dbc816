/**
 * gRPC-Web (binary and text) through a real HTTP server with connect-node's gRPC-Web transport and raw
 * fetch; trailers-only errors; text-mode base64 with misaligned chunks; backpressure.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { create, toBinary, fromBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-node";
import { EchoService, EchoRequestSchema, EchoResponseSchema } from "../../src/gen/demo/v1/echo_pb.js";
import { envelopes } from "../helpers/grpc-web.js";
import { eventually } from "../helpers/wait.js";
import { echoServersPerFile } from "../helpers/protocol-server.js";
import { encodeEnvelope } from "../../src/protocol/envelope.js";
import { Base64Decoder, base64EncodeToBytes } from "../../src/protocol/base64.js";
import { handleGrpcWeb } from "../../src/protocol-grpc-web/index.js";

const servers = echoServersPerFile();
const echo = servers.echo;

const client = () => createClient(EchoService, createGrpcWebTransport({ baseUrl: servers.srv.http1Url, httpVersion: "1.1" }));
const req = (message: string, repeat = 0) => toBinary(EchoRequestSchema, create(EchoRequestSchema, { message, repeat }));

test("unary and server streaming (connect-node gRPC-Web transport)", async () => {
  const r = await client().echo({ message: "gw" });
  assert.equal(r.message, "gw");
  const rec = echo.calls.at(-1)!;
  assert.equal(rec.call.protocol, "grpc-web");
  const got: string[] = [];
  for await (const m of client().echoStream({ message: "s", repeat: 3 })) got.push(m.message);
  assert.deepEqual(got, ["s 0", "s 1", "s 2"]);
});

test("client streaming over HTTP/2 (connect-node gRPC-Web transport)", async () => {
  const c = createClient(EchoService, createGrpcWebTransport({ baseUrl: servers.srv.h2Url, httpVersion: "2", sessionManager: servers.h2 }));
  const r = await c.echoClientStream((async function* () {
    yield { message: "a" };
    yield { message: "b" };
  })());
  assert.equal(r.message, "a b");
});

test("headers and trailers reach the client; protocol headers are not metadata", async () => {
  let header: Headers | undefined;
  let trailer: Headers | undefined;
  await client().echo({ message: "m" }, { headers: { "x-test-mode": "meta", "x-k": "v" }, onHeader: (h) => (header = h), onTrailer: (t) => (trailer = t) });
  assert.equal(header?.get("x-header"), "h");
  assert.equal(header?.get("x-echo-x-k"), "v");
  assert.equal(header?.get("x-echo-x-grpc-web"), null);
  assert.equal(header?.get("x-echo-x-user-agent"), null);
  assert.equal(trailer?.get("x-trailer"), "t");
  assert.equal(trailer?.get("grpc-status"), "0");
});

test("errors: trailers-only (status in HTTP headers, empty body) and after a header (0x80 trailer frame)", async () => {
  for (const code of [Code.PermissionDenied, Code.NotFound, Code.Unauthenticated, Code.Internal]) {
    await assert.rejects(
      client().echo({ message: "x" }, { headers: { "x-test-mode": "fail", "x-fail-code": String(code), "x-fail-message": encodeURIComponent("bad ü%") } }),
      (e: unknown) => e instanceof ConnectError && e.code === code && e.rawMessage === "bad ü%" && e.metadata.get("x-trailer") === "t",
    );
  }
  const only = await fetch(`${servers.srv.http1Url}/demo.v1.EchoService/Echo`, {
    method: "POST",
    headers: { "content-type": "application/grpc-web+proto", "x-test-mode": "fail", "x-fail-code": "16", "x-fail-message": "bad%20token" },
    body: encodeEnvelope(0, req("x")),
  });
  assert.equal(only.status, 200);
  assert.equal(only.headers.get("grpc-status"), "16");
  assert.equal(only.headers.get("grpc-message"), "bad token");
  assert.equal(only.headers.get("x-trailer"), "t");
  assert.equal((await only.arrayBuffer()).byteLength, 0);

  const late = await fetch(`${servers.srv.http1Url}/demo.v1.EchoService/Echo`, {
    method: "POST",
    headers: { "content-type": "application/grpc-web+proto", "x-test-mode": "fail", "x-fail-code": "5", "x-fail-after-header": "1" },
    body: encodeEnvelope(0, req("x")),
  });
  assert.equal(late.headers.get("grpc-status"), null);
  assert.equal(late.headers.get("x-header"), "h");
  const f = envelopes(new Uint8Array(await late.arrayBuffer()));
  assert.equal(f.length, 1);
  assert.equal(f[0]!.flags, 0x80);
  assert.equal(new TextDecoder().decode(f[0]!.data), "grpc-status: 5\r\ngrpc-message: failed\r\nx-trailer: t\r\n");
});

test("an error while the client is still sending (HTTP/1.1, chunked body) reaches the client", { timeout: 10_000 }, async () => {
  let i = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(c) {
      if (i++ === 0) return c.enqueue(encodeEnvelope(0, req("first")));
      await new Promise((r) => setTimeout(r, 100));
      if (i > 5) return c.close();
      c.enqueue(encodeEnvelope(0, req("late")));
    },
  });
  const res = await fetch(`${servers.srv.http1Url}/demo.v1.EchoService/EchoClientStream`, {
    method: "POST",
    headers: { "content-type": "application/grpc-web+proto", "x-test-mode": "fail", "x-fail-after-read": "1", "x-fail-code": "9" },
    body,
    duplex: "half",
  } as RequestInit);
  assert.equal(res.headers.get("grpc-status"), "9");
  await res.arrayBuffer();
});

test("grpc-timeout becomes call.timeoutMs; DEADLINE_EXCEEDED maps back; invalid grpc-timeout is INVALID_ARGUMENT", async () => {
  const next = echo.nextCall();
  await assert.rejects(client().echo({ message: "x" }, { timeoutMs: 120, headers: { "x-test-mode": "sleep" } }), (e: unknown) => ConnectError.from(e).code === Code.DeadlineExceeded);
  const rec = await next;
  assert.ok(rec.call.timeoutMs !== undefined && rec.call.timeoutMs <= 120 && rec.call.timeoutMs > 0);
  const n = echo.calls.length;
  const res = await fetch(`${servers.srv.http1Url}/demo.v1.EchoService/Echo`, {
    method: "POST",
    headers: { "content-type": "application/grpc-web+proto", "grpc-timeout": "1x" },
    body: encodeEnvelope(0, req("x")),
  });
  assert.equal(res.headers.get("grpc-status"), String(Code.InvalidArgument));
  assert.equal(echo.calls.length, n);
});

test("oversized message: RESOURCE_EXHAUSTED and the handler never sees it; oversized metadata too", async () => {
  const next = echo.nextCall();
  await assert.rejects(client().echo({ message: "x".repeat(70 * 1024) }), (e: unknown) => ConnectError.from(e).code === Code.ResourceExhausted);
  const rec = await next;
  await rec.done;
  assert.equal(rec.requests.length, 0);
  assert.equal(rec.requestError?.code, Code.ResourceExhausted);
  const n = echo.calls.length;
  await assert.rejects(client().echo({ message: "x" }, { headers: { "x-big": "v".repeat(3000) } }), (e: unknown) => ConnectError.from(e).code === Code.ResourceExhausted);
  assert.equal(echo.calls.length, n);
});

/** A request body stream that emits `bytes` in chunks of the given sizes (cycled). */
function chunked(bytes: Uint8Array, sizes: number[]): ReadableStream<Uint8Array> {
  let i = 0;
  let k = 0;
  return new ReadableStream({
    pull(c) {
      if (i >= bytes.length) return c.close();
      const n = sizes[k++ % sizes.length]!;
      c.enqueue(bytes.slice(i, i + n));
      i += n;
    },
  });
}

function textBody(messages: Uint8Array[]): Uint8Array {
  // one base64 string over all frames, so that frame and chunk boundaries fall inside base64 groups
  const all = messages.map((m) => encodeEnvelope(0, m));
  const joined = new Uint8Array(all.reduce((n, f) => n + f.length, 0));
  let o = 0;
  for (const f of all) {
    joined.set(f, o);
    o += f.length;
  }
  return base64EncodeToBytes(joined);
}

async function readTextResponse(res: Response): Promise<{ flags: number; data: Uint8Array }[]> {
  const text = new Uint8Array(await res.arrayBuffer());
  assert.equal(text.length % 4, 0, "each segment is padded to a multiple of 4");
  // decode 4 characters at a time, as the Google grpc-web client does
  const d = new Base64Decoder();
  const parts: Uint8Array[] = [];
  for (let i = 0; i < text.length; i += 4) parts.push(d.push(text.subarray(i, i + 4)));
  parts.push(d.end());
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    bytes.set(p, o);
    o += p.length;
  }
  return envelopes(bytes);
}

test("gRPC-Web text: misaligned base64 request chunks, padded base64 segment per response frame (direct)", async () => {
  const body = textBody([req("t1"), req("t2"), req("t3 with a longer message")]);
  for (const sizes of [[1], [2, 3], [5, 7, 1], [3]]) {
    const res = await handleGrpcWeb(
      new Request("http://x/demo.v1.EchoService/EchoBidi", {
        method: "POST",
        headers: { "content-type": "application/grpc-web-text", accept: "application/grpc-web-text" },
        body: chunked(body, sizes),
        duplex: "half",
      } as RequestInit),
      echo.handler,
    );
    assert.equal(res.headers.get("content-type"), "application/grpc-web-text+proto");
    const f = await readTextResponse(res);
    assert.deepEqual(
      f.slice(0, -1).map((x) => fromBinary(EchoResponseSchema, x.data).message),
      ["t1", "t2", "t3 with a longer message"],
    );
    assert.equal(f.at(-1)!.flags, 0x80);
    assert.match(new TextDecoder().decode(f.at(-1)!.data), /^grpc-status: 0\r\n/);
  }
});

test("gRPC-Web text over the real server, and invalid base64 is INVALID_ARGUMENT", async () => {
  const res = await fetch(`${servers.srv.http1Url}/demo.v1.EchoService/EchoStream`, {
    method: "POST",
    headers: { "content-type": "application/grpc-web-text", accept: "application/grpc-web-text", "x-grpc-web": "1" },
    body: chunked(textBody([req("net", 2)]), [3, 1, 6]),
    duplex: "half",
  } as RequestInit);
  const f = await readTextResponse(res);
  assert.deepEqual(f.slice(0, -1).map((x) => fromBinary(EchoResponseSchema, x.data).message), ["net 0", "net 1"]);
  const bad = await fetch(`${servers.srv.http1Url}/demo.v1.EchoService/Echo`, {
    method: "POST",
    headers: { "content-type": "application/grpc-web-text" },
    body: "AAA*AAAA",
  });
  const fb = await readTextResponse(bad).catch(() => []);
  const status = bad.headers.get("grpc-status") ?? (fb.length ? /grpc-status: (\d+)/.exec(new TextDecoder().decode(fb.at(-1)!.data))?.[1] : undefined);
  assert.equal(status, String(Code.InvalidArgument));
});

test("backpressure (direct): a reader that never reads makes responder.message() return a pending promise", { timeout: 10_000 }, async () => {
  const next = echo.nextCall();
  const res = await handleGrpcWeb(
    new Request("http://x/demo.v1.EchoService/EchoStream", {
      method: "POST",
      headers: { "content-type": "application/grpc-web+proto", "x-test-mode": "flood" },
      body: encodeEnvelope(0, req("x")),
    }),
    echo.handler,
    { highWaterMarkBytes: 256 * 1024 },
  );
  const rec = await next;
  await eventually(() => rec.stalledAt !== undefined, 8_000, "responder.message() to stall");
  const stalledAt = rec.stalledAt!;
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(rec.pendingSettled, false, "nobody reads: the promise stays pending");
  // 256 KiB mark, each 8 KiB chunk counting 8 KiB + 4 KiB: stops at about 22 messages
  assert.ok(stalledAt <= 32, `stalled after ${stalledAt} messages of 8 KiB`);
  await res.body!.cancel(); // the client goes away
  await rec.done;
  assert.ok(rec.aborted instanceof ConnectError && rec.aborted.code === Code.Canceled);
  assert.equal(rec.pendingSettled, true, "cancel released the writer");
});

test("backpressure (real server): a client that never reads bounds what the gateway queues", { timeout: 20_000 }, async () => {
  const next = echo.nextCall();
  const url = new URL(servers.srv.http1Url);
  const body = encodeEnvelope(0, req("x"));
  const sock = net.connect(Number(url.port), url.hostname);
  sock.write(
    `POST /demo.v1.EchoService/EchoStream HTTP/1.1\r\nHost: x\r\nContent-Type: application/grpc-web+proto\r\nX-Test-Mode: flood\r\nContent-Length: ${body.length}\r\n\r\n`,
  );
  sock.write(body);
  sock.pause(); // never read
  const rec = await next;
  await eventually(() => rec.stalledAt !== undefined, 15_000, "responder.message() to stall");
  const stalledAt = rec.stalledAt!;
  // socket buffers on both sides absorb some MiB first; the gateway then stops at its high-water mark
  assert.ok(stalledAt * 8 * 1024 < 64 * 1024 * 1024, `stalled after ${stalledAt} messages`);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(rec.pendingSettled, false, "the client does not read: the promise stays pending");
  sock.destroy();
  await rec.done;
  assert.ok(rec.aborted instanceof ConnectError && rec.aborted.code === Code.Canceled, String(rec.aborted));
});

test("unsupported content type → 415, other methods → 405", async () => {
  const a = await handleGrpcWeb(new Request("http://x/a.B/C", { method: "POST", headers: { "content-type": "application/grpc" }, body: "" }), echo.handler);
  assert.equal(a.status, 415);
  const b = await handleGrpcWeb(new Request("http://x/a.B/C", { method: "GET" }), echo.handler);
  assert.equal(b.status, 405);
});
