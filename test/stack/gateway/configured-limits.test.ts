/**
 * The socket and buffer limits are config keys, and the running gateway applies them:
 * `edge.idle_timeout_ms` (a silent TCP connection, a WebSocket without its grpc-websockets header
 * frame), `edge.idle_session_timeout_ms` (an HTTP/2 session without streams) and
 * `edge.max_buffered_bytes` (response bytes held for a client that does not read). The defaults
 * (10 s, 60 s, 8 MiB) are far above what each test here waits or allows, so a test passes only if
 * the configured value took effect.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import net from "node:net";
import { Code } from "@connectrpc/connect";
import { EchoRequestSchema } from "../../../src/gen/demo/v1/echo_pb.js";
import { create, toBinary } from "@bufbuild/protobuf";
import { handleGrpcWeb } from "../../../src/protocol-grpc-web/index.js";
import { encodeEnvelope } from "../../../src/protocol/index.js";
import { startStack, type Stack } from "../../helpers/gateway.js";
import { eventually } from "../../helpers/nats.js";
import { RawWebSocket } from "../../helpers/raw-websocket.js";
import { grpcWsFrames } from "../../helpers/grpc-websockets-client.js";
import { within } from "../../helpers/wait.js";

const IDLE_MS = 400;
const MAX_BUFFERED = 64 * 1024;
let stack: Stack;

before(async () => {
  stack = await startStack({
    nodes: 1,
    config: { edge: { idle_timeout_ms: IDLE_MS, idle_session_timeout_ms: IDLE_MS, max_buffered_bytes: MAX_BUFFERED } },
  });
});
after(async () => {
  await stack?.stop();
});

test("config: the keys resolve, and the gateway hands them to the adapters", () => {
  assert.equal(stack.config.idleTimeoutMs, IDLE_MS);
  assert.equal(stack.config.idleSessionTimeoutMs, IDLE_MS);
  assert.equal(stack.config.maxBufferedBytes, MAX_BUFFERED);
  const p = stack.gw.gateway.protocol;
  assert.deepEqual([p.headerTimeoutMs, p.firstBytesTimeoutMs, p.idleSessionTimeoutMs], [IDLE_MS, IDLE_MS, IDLE_MS]);
});

test("edge.idle_timeout_ms closes a silent TCP connection and a WebSocket without a header frame (DEADLINE_EXCEEDED)", { timeout: 30_000 }, async () => {
  const port = Number(new URL(stack.url).port);
  const silent = net.connect({ port, host: "127.0.0.1" });
  silent.on("error", () => {});
  const tcpClosed = new Promise<void>((resolve) => silent.once("close", () => resolve()));
  const ws = await RawWebSocket.open(port, "/demo.v1.EchoService/EchoBidi");
  // The default would hold both for 10 s.
  assert.ok(await ws.waitClosed(5000), "the WebSocket was closed well before the 10 s default");
  assert.equal(grpcWsFrames(ws.data).trailers?.get("grpc-status"), String(Code.DeadlineExceeded));
  assert.equal(ws.closeCode, 1000);
  ws.destroy();
  await within(tcpClosed, 5000, "silent TCP connection closed well before the 10 s default");
});

test("edge.idle_session_timeout_ms closes an HTTP/2 session without streams", { timeout: 30_000 }, async () => {
  const s = http2.connect(stack.url);
  s.on("error", () => {});
  // Make it a live session first (the first-bytes timer stops once the preface arrives).
  await new Promise<void>((resolve, reject) => {
    const req = s.request({ ":method": "GET", ":path": "/healthz" });
    req.on("error", reject);
    req.resume();
    req.on("end", () => resolve());
  });
  await within(new Promise<void>((resolve) => s.once("close", () => resolve())), 10_000, "session closed well before the 60 s default");
});

test("edge.max_buffered_bytes: a reader that never reads costs the configured bytes, then the backend is cancelled", { timeout: 60_000 }, async () => {
  // 16 KiB × 10,000 offered; nobody reads the response body until the call has ended. What is left
  // in it is what the gateway held: up to the response stream's 1 MiB mark (each chunk also counts
  // 1/64 of the mark, so about 400 KiB of 16 KiB messages) plus max_buffered_bytes. The 8 MiB
  // default would leave over 8 MiB.
  const req = toBinary(EchoRequestSchema, create(EchoRequestSchema, { message: "x".repeat(16 * 1024), repeat: 10_000 }));
  const res = await handleGrpcWeb(
    new Request("http://gw/demo.v1.EchoService/EchoStream", {
      method: "POST",
      headers: { "content-type": "application/grpc-web+proto" },
      body: encodeEnvelope(0, req),
    }),
    stack.gw.gateway.handler,
    stack.gw.gateway.protocol,
  );
  assert.equal(res.status, 200);
  await eventually(() => stack.gw.gateway.director.inFlight === 0, 30_000, "the call ended without anyone reading");
  const body = new Uint8Array(await res.arrayBuffer());
  assert.ok(body.length < 1024 * 1024 + MAX_BUFFERED + 64 * 1024, `held ${body.length} bytes`);
  assert.ok(body.length > MAX_BUFFERED, `the response stream held messages (${body.length} bytes)`);
  const trailer = new TextDecoder().decode(body.subarray(body.length - 200));
  assert.match(trailer, new RegExp(`grpc-status: ?${Code.ResourceExhausted}\\b`));
});

test("bad values are refused with the key named", async () => {
  const { resolveConfig } = await import("../../../src/config/index.js");
  assert.throws(() => resolveConfig({ edge: { idle_timeout_ms: -1 } }), /edge\.idle_timeout_ms/);
  assert.throws(() => resolveConfig({ edge: { idle_session_timeout_ms: "soon" } }), /edge\.idle_session_timeout_ms/);
  assert.throws(() => resolveConfig({ edge: { max_buffered_bytes: 10 } }), /edge\.max_buffered_bytes/);
  const d = resolveConfig({});
  assert.deepEqual([d.idleTimeoutMs, d.idleSessionTimeoutMs, d.maxBufferedBytes], [10_000, 60_000, 8 * 1024 * 1024]);
});
