/**
 * Hostile clients: idle connections. Per-IP limits count calls, and an idle connection is not a call
 * yet, so each of these would hold a socket forever: a TCP connection that never sends a byte, a
 * WebSocket that never sends its grpc-websockets header frame, an HTTP/2 session without streams.
 * The gateway closes them: the first two after 10 s (its defaults, end to end; the WebSocket gets a
 * DEADLINE_EXCEEDED trailer frame), the HTTP/2 session after its idle time (the one-port server with
 * a short idle time here) — but never a session that still has a stream open.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import net from "node:net";
import { Code } from "@connectrpc/connect";
import type { CallHandler } from "../../../src/core/call.js";
import { createGrpcH2cServer } from "../../../src/runtime/node/server.js";
import { serveContext } from "../../../src/protocol/options.js";
import { startStack, type Stack } from "../../helpers/gateway.js";
import { assertNoLeaks, baseline, type Baseline } from "./leak-check.js";
import { RawWebSocket } from "../../helpers/raw-websocket.js";
import { summary } from "../../helpers/soak.js";
import { grpcWsFrames } from "../../helpers/grpc-websockets-client.js";
import { within } from "../../helpers/wait.js";

let stack: Stack;
let base: Baseline;
before(async () => {
  stack = await startStack({ nodes: 1 });
  base = await baseline(stack);
});
after(async () => {
  await stack?.stop();
});

const counts = { silentTcp: 0, headerlessWebSockets: 0, idleH2Sessions: 0, busyH2Sessions: 0 };

test("a silent TCP connection and a WebSocket without a header frame are closed after 10 s", { timeout: 60_000 }, async () => {
  const port = Number(new URL(stack.url).port);
  const silent = Array.from({ length: 5 }, () => net.connect({ port, host: "127.0.0.1" }));
  const tcpClosed = silent.map((s) => new Promise<number>((resolve) => {
    const t0 = Date.now();
    s.on("error", () => {});
    s.once("close", () => resolve(Date.now() - t0));
  }));
  const sockets = await Promise.all(Array.from({ length: 5 }, () => RawWebSocket.open(port, "/demo.v1.EchoService/EchoBidi")));
  const closed = await Promise.all(sockets.map((w) => w.waitClosed(25_000)));
  for (const [i, w] of sockets.entries()) {
    assert.ok(closed[i], "the WebSocket was closed");
    assert.equal(grpcWsFrames(w.data).trailers?.get("grpc-status"), String(Code.DeadlineExceeded), "with a DEADLINE_EXCEEDED trailer frame");
    assert.equal(w.closeCode, 1000);
    counts.headerlessWebSockets++;
  }
  const ms = await within(Promise.all(tcpClosed), 25_000, "silent TCP connections closed");
  counts.silentTcp = ms.length;
  for (const w of sockets) w.destroy();
  // Calls still work, and nothing was counted as a call.
  const r = await fetch(`${stack.url}/demo.v1.EchoService/Echo`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ message: "after idle" }) });
  assert.equal(r.status, 200);
  await r.text();
  await assertNoLeaks(stack, base);
});

test("an HTTP/2 session without streams is closed after its idle time; one with an open stream is not", { timeout: 30_000 }, async () => {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  // A handler whose calls wait until released.
  const handler: CallHandler = async (call, res) => {
    for await (const _ of call.requests) break;
    await Promise.race([released, new Promise<void>((r) => call.signal.addEventListener("abort", () => r(), { once: true }))]);
    res.end(undefined, new Map());
  };
  const server = createGrpcH2cServer(serveContext(handler), { idleSessionTimeoutMs: 300, firstBytesTimeoutMs: 300 });
  const addr = await server.listen(0, "127.0.0.1");
  const url = `http://127.0.0.1:${addr.port}`;
  try {
    const sessionClosed = (s: http2.ClientHttp2Session) => new Promise<void>((resolve) => s.once("close", () => resolve()));
    // Idle: no stream at all.
    const idle = http2.connect(url);
    idle.on("error", () => {});
    await within(sessionClosed(idle), 5000, "idle session closed");
    counts.idleH2Sessions++;
    // Busy: a stream open for 3 × the idle time; then idle again → closed.
    const busy = http2.connect(url);
    busy.on("error", () => {});
    const closedBusy = sessionClosed(busy);
    let busyClosedEarly = false;
    void closedBusy.then(() => (busyClosedEarly = true));
    const req = busy.request({ ":method": "POST", ":path": "/x.v1.X/Y", "content-type": "application/grpc", te: "trailers" });
    req.on("error", () => {});
    req.resume();
    req.end(Buffer.from([0, 0, 0, 0, 0]));
    await new Promise((r) => setTimeout(r, 900));
    assert.equal(busyClosedEarly, false, "a session with an open stream is kept");
    release();
    await new Promise<void>((r) => req.on("close", () => r()));
    await within(closedBusy, 5000, "session closed after its stream ended");
    counts.busyH2Sessions++;
  } finally {
    await server.destroy();
  }
  summary("idle", counts);
});
