/**
 * grpc-websockets through a real server (Hono + @hono/node-ws), with a `ws` client speaking the
 * improbable-eng protocol byte by byte; and the session directly with a fake socket.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { create, toBinary, fromBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { EchoRequestSchema, EchoResponseSchema } from "../../src/gen/demo/v1/echo_pb.js";
import { createEchoHandler } from "../helpers/echo-handler.js";
import { wsDataFrame as dataFrame, wsHalfClose as halfClose, wsHeaderFrame as headerFrame, WsCall, type WsFrame } from "../helpers/grpc-websockets-client.js";
import { eventually } from "../helpers/wait.js";
import { allowedOrigin, startServers, type TestServers } from "../helpers/protocol-server.js";
import { createGrpcWebsocketsSession } from "../../src/protocol-grpc-websockets/index.js";

const echo = createEchoHandler();
let srv: TestServers;

before(async () => {
  srv = await startServers(echo.handler, { maxMessageBytes: 64 * 1024, maxMetadataBytes: 2048 });
});
after(async () => {
  await srv.close();
});

const enc = new TextEncoder();
const reqBytes = (message: string, repeat = 0) => toBinary(EchoRequestSchema, create(EchoRequestSchema, { message, repeat }));

/** A client of the test server, recording every frame of each WebSocket message and the close. */
const probe = (path: string, origin?: string) => new WsCall(srv.wsUrl + path, origin ? { origin } : {});

const status = (text: string | undefined) => /grpc-status: (\d+)/.exec(text ?? "")?.[1];
const reply = (f: WsFrame) => fromBinary(EchoResponseSchema, f.data!).message;

test("unary: header frame is its own message, then data, then trailers, then close 1000", async () => {
  const p = probe("/demo.v1.EchoService/Echo", allowedOrigin);
  await p.opened;
  assert.equal(p.ws.protocol, "grpc-websockets");
  p.sendRaw(headerFrame({ "x-test-mode": "meta", authorization: "tok" }));
  p.sendRaw(dataFrame(reqBytes("ws")));
  p.sendRaw(halfClose);
  const r = await p.wire();
  assert.equal(r.close.code, 1000);
  assert.ok(r.closeLast, "trailers arrive before the close");
  assert.equal(r.messages[0]!.length, 1, "the header frame travels alone");
  assert.equal(r.messages[0]![0]!.kind, "header");
  assert.match(r.messages[0]![0]!.text!, /^content-type: application\/grpc-web\+proto\r\n/);
  assert.match(r.messages[0]![0]!.text!, /\r\nx-echo-authorization: tok\r\n/);
  const frames = r.messages.flat();
  assert.deepEqual(frames.filter((f) => f.kind === "data").map(reply), ["ws"]);
  const last = frames.at(-1)!;
  assert.equal(last.kind, "header");
  assert.equal(last.text, "grpc-status: 0\r\nx-trailer: t\r\n");
  const rec = echo.calls.at(-1)!;
  assert.equal(rec.call.protocol, "grpc-websockets");
  assert.equal(rec.call.path, "/demo.v1.EchoService/Echo");
  assert.equal(rec.call.remote.origin, allowedOrigin);
  assert.deepEqual(rec.call.metadata.get("authorization"), ["tok"]);
  assert.equal(rec.call.metadata.has("content-type"), false);
  assert.equal(rec.call.metadata.has("x-grpc-web"), false);
});

test("server streaming", async () => {
  const p = probe("/demo.v1.EchoService/EchoStream");
  await p.opened;
  p.sendRaw(headerFrame());
  p.sendRaw(dataFrame(reqBytes("s", 3)));
  p.sendRaw(halfClose);
  const r = await p.wire();
  const frames = r.messages.flat();
  assert.deepEqual(frames.filter((f) => f.kind === "data").map(reply), ["s 0", "s 1", "s 2"]);
  assert.equal(status(frames.at(-1)!.text), "0");
  assert.equal(r.close.code, 1000);
});

test("client streaming ends at the half-close (0x01)", async () => {
  const p = probe("/demo.v1.EchoService/EchoClientStream");
  await p.opened;
  p.sendRaw(headerFrame());
  for (const m of ["a", "b", "c"]) p.sendRaw(dataFrame(reqBytes(m)));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(p.messages.length, 0, "nothing before the half-close");
  p.sendRaw(halfClose);
  const r = await p.wire();
  assert.deepEqual(r.messages.flat().filter((f) => f.kind === "data").map(reply), ["a b c"]);
});

test("bidi interleaved: each reply arrives before the next request", { timeout: 10_000 }, async () => {
  const p = probe("/demo.v1.EchoService/EchoBidi");
  await p.opened;
  p.sendRaw(headerFrame());
  const got: string[] = [];
  for (const [i, m] of ["one", "two", "three"].entries()) {
    p.sendRaw(dataFrame(reqBytes(m)));
    const ms = await p.waitMessages(i + 2); // header + i+1 data messages
    got.push(reply(ms.at(-1)![0]!));
  }
  assert.deepEqual(got, ["one", "two", "three"]);
  p.sendRaw(halfClose);
  const r = await p.wire();
  assert.equal(status(r.messages.flat().at(-1)!.text), "0");
  assert.equal(r.close.code, 1000);
});

test("client close mid-stream aborts the call's signal (CANCELLED)", { timeout: 10_000 }, async () => {
  const next = echo.nextCall();
  const p = probe("/demo.v1.EchoService/EchoBidi");
  await p.opened;
  p.sendRaw(headerFrame({ "x-test-mode": "sleep" }));
  p.sendRaw(dataFrame(reqBytes("x")));
  const rec = await next;
  assert.equal(rec.aborted, undefined);
  p.ws.close();
  await rec.done;
  const reason: unknown = rec.aborted;
  assert.ok(reason instanceof ConnectError && reason.code === Code.Canceled, String(reason));
});

test("errors: trailers-only is one 0x80 frame; after a header, a trailer frame; both closed 1000", async () => {
  const p = probe("/demo.v1.EchoService/Echo");
  await p.opened;
  p.sendRaw(headerFrame({ "x-test-mode": "fail", "x-fail-code": "16", "x-fail-message": "bad%20token%20%C3%BC" }));
  const r = await p.wire();
  assert.equal(r.messages.length, 1);
  assert.equal(r.messages[0]!.length, 1);
  assert.equal(r.messages[0]![0]!.text, "content-type: application/grpc-web+proto\r\ngrpc-status: 16\r\ngrpc-message: bad token %C3%BC\r\nx-trailer: t\r\n");
  assert.equal(decodeURIComponent("bad token %C3%BC"), "bad token ü");
  assert.equal(r.close.code, 1000);

  const q = probe("/demo.v1.EchoService/Echo");
  await q.opened;
  q.sendRaw(headerFrame({ "x-test-mode": "fail", "x-fail-code": "5", "x-fail-after-header": "1" }));
  const r2 = await q.wire();
  assert.equal(r2.messages.length, 2);
  assert.match(r2.messages[0]![0]!.text!, /^content-type: application\/grpc-web\+proto\r\nx-header: h\r\n$/);
  assert.equal(r2.messages[1]![0]!.text, "grpc-status: 5\r\ngrpc-message: failed\r\nx-trailer: t\r\n");
  assert.ok(r2.closeLast);
});

test("grpc-timeout in the header block becomes call.timeoutMs", async () => {
  const next = echo.nextCall();
  const p = probe("/demo.v1.EchoService/Echo");
  await p.opened;
  p.sendRaw(headerFrame({ "x-test-mode": "sleep", "grpc-timeout": "80m" }));
  const rec = await next;
  assert.equal(rec.call.timeoutMs, 80);
  assert.equal(rec.call.metadata.has("grpc-timeout"), false);
  const r = await p.wire();
  assert.equal(status(r.messages.flat().at(-1)!.text), String(Code.DeadlineExceeded));
});

async function expectFailure(path: string, frames: (Uint8Array | string)[], code: Code): Promise<string> {
  const p = probe(path);
  await p.opened;
  for (const f of frames) p.sendRaw(f);
  const r = await p.wire();
  const last = r.messages.flat().at(-1)!;
  assert.equal(status(last.text), String(code), last.text);
  assert.equal(r.close.code, 1000);
  assert.ok(r.closeLast);
  return last.text!;
}

test("oversized message: RESOURCE_EXHAUSTED, the handler never sees it", async () => {
  const next = echo.nextCall();
  await expectFailure("/demo.v1.EchoService/EchoClientStream", [headerFrame(), dataFrame(reqBytes("ok")), dataFrame(reqBytes("x".repeat(70 * 1024)))], Code.ResourceExhausted);
  const rec = await next;
  await rec.done;
  assert.deepEqual(rec.requests.map((r) => r.message), ["ok"]);
  assert.ok(rec.aborted instanceof ConnectError && rec.aborted.code === Code.ResourceExhausted);
});

test("oversized metadata: RESOURCE_EXHAUSTED (trailers-only), no call", async () => {
  const n = echo.calls.length;
  const text = await expectFailure("/demo.v1.EchoService/Echo", [headerFrame({ "x-big": "v".repeat(3000) })], Code.ResourceExhausted);
  assert.match(text, /^content-type: /);
  assert.equal(echo.calls.length, n);
});

test("malformed input: CR in a value, bad lines, text frames, compressed flag, wrong length, unknown control byte", async () => {
  const n = echo.calls.length;
  await expectFailure("/demo.v1.EchoService/Echo", [enc.encode("x-bad: a\rb\r\n")], Code.InvalidArgument);
  await expectFailure("/demo.v1.EchoService/Echo", [enc.encode("x-bad: caf\u00e9\r\n")], Code.InvalidArgument);
  await expectFailure("/demo.v1.EchoService/Echo", [enc.encode("no colon here\r\n")], Code.InvalidArgument);
  await expectFailure("/demo.v1.EchoService/Echo", ["content-type: application/grpc-web+proto\r\n"], Code.InvalidArgument);
  assert.equal(echo.calls.length, n, "no call for a bad header frame");
  await expectFailure("/demo.v1.EchoService/Echo", [headerFrame(), "text"], Code.InvalidArgument);
  await expectFailure("/demo.v1.EchoService/Echo", [headerFrame(), dataFrame(reqBytes("x"), 1)], Code.Unimplemented);
  await expectFailure("/demo.v1.EchoService/Echo", [headerFrame(), dataFrame(reqBytes("x"), 0, 3)], Code.InvalidArgument);
  await expectFailure("/demo.v1.EchoService/Echo", [headerFrame(), Uint8Array.of(0x02, 0, 0)], Code.InvalidArgument);
});

test("a disallowed Origin cannot upgrade", async () => {
  const p = probe("/demo.v1.EchoService/Echo", "https://evil.test");
  await assert.rejects(p.opened, /HTTP 403/);
});

test("backpressure (real server): a client that stops reading stalls responder.message()", { timeout: 20_000 }, async () => {
  const next = echo.nextCall();
  const p = probe("/demo.v1.EchoService/EchoStream");
  await p.opened;
  p.sendRaw(headerFrame({ "x-test-mode": "flood" }));
  p.sendRaw(dataFrame(reqBytes("x")));
  (p.ws as unknown as { _socket: { pause(): void } })._socket.pause(); // stop reading
  const rec = await next;
  await eventually(() => rec.stalledAt !== undefined, 15_000, "responder.message() to stall");
  const stalledAt = rec.stalledAt!;
  assert.ok(stalledAt * 8 * 1024 < 64 * 1024 * 1024, `stalled after ${stalledAt} messages`);
  assert.equal(rec.pendingSettled, false);
  p.ws.terminate();
  await rec.done;
  assert.ok(rec.aborted instanceof ConnectError && rec.aborted.code === Code.Canceled);
});

test("backpressure (direct): message() returns a promise above the mark, resolved when bufferedAmount drops", async () => {
  const sent: Uint8Array[] = [];
  const sock = { bufferedAmount: 0, send: (d: Uint8Array) => void sent.push(d), close: () => {} };
  let responder!: { message(d: Uint8Array): void | Promise<void>; end(e: undefined, t: Map<string, string[]>): void };
  const started = new Promise<void>((resolve) => {
    const s = createGrpcWebsocketsSession(
      sock,
      "/a.B/C",
      async (_call, res) => {
        responder = res;
        resolve();
        await new Promise(() => {}); // the test drives the responder
      },
      { highWaterMarkBytes: 1000, drainPollMs: 1 },
    );
    s.onMessage(new Uint8Array(0));
  });
  await started;
  assert.equal(responder.message(new Uint8Array(10)), undefined, "below the mark: synchronous");
  sock.bufferedAmount = 5000;
  const p = responder.message(new Uint8Array(10));
  assert.ok(p instanceof Promise);
  let settled = false;
  void p.then(() => (settled = true));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(settled, false);
  sock.bufferedAmount = 0;
  await p;
  responder.end(undefined, new Map());
  assert.equal(sent[0]![0], 0x80, "a header frame went first");
});
