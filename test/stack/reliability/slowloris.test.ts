/**
 * Hostile clients: HTTP/1.1 slowloris on the one-port server. A client that sends its header block
 * one byte a second, or a complete header and then its body one byte a second, is never idle, so
 * the first-bytes timer does not catch it: the header timeout (`edge.http_header_timeout_ms`) and the
 * request timeout (`edge.http_request_timeout_ms`) do — 408 and the connection closed. Configured
 * small here (1 s and 2.5 s) so the test waits seconds, not the defaults' minutes; each close is
 * awaited with a deadline and its time printed. A request that arrives in time is still served, and
 * a response that comes later than the request timeout is not cut.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { startStack, type Stack } from "../../helpers/gateway.js";
import { echoReq } from "../../helpers/echo-schema.js";
import { assertNoLeaks, baseline, type Baseline } from "./leak-check.js";
import { httpRequest } from "./raw-http.js";
import { summary } from "../../helpers/soak.js";
import { within } from "../../helpers/wait.js";

const HEADER_MS = 1000;
const REQUEST_MS = 2500;

let stack: Stack;
let base: Baseline;
let port: number;

before(async () => {
  stack = await startStack({ nodes: 1, config: { edge: { http_header_timeout_ms: HEADER_MS, http_request_timeout_ms: REQUEST_MS } } });
  port = Number(new URL(stack.url).port);
  base = await baseline(stack);
});
after(async () => {
  await stack?.stop();
});

const counts: Record<string, number> = {};

test("config: the keys, their defaults (Node's), and a header timeout longer than the request timeout refused", async () => {
  const { resolveConfig } = await import("../../../src/config/index.js");
  assert.deepEqual([stack.config.httpHeaderTimeoutMs, stack.config.httpRequestTimeoutMs], [HEADER_MS, REQUEST_MS]);
  const d = resolveConfig({});
  assert.deepEqual([d.httpHeaderTimeoutMs, d.httpRequestTimeoutMs], [60_000, 300_000]);
  assert.throws(() => resolveConfig({ edge: { http_header_timeout_ms: 5000, http_request_timeout_ms: 1000 } }), /edge\.http_header_timeout_ms/);
  assert.throws(() => resolveConfig({ edge: { http_request_timeout_ms: -1 } }), /edge\.http_request_timeout_ms/);
  // 0 turns either off; the other still applies.
  assert.equal(resolveConfig({ edge: { http_request_timeout_ms: 0 } }).httpHeaderTimeoutMs, 60_000);
});

/**
 * Opens a connection and sends `head` at once, then `drip` one byte a second until the server closes
 * the connection. Resolves with what the server sent and how long after the connect it closed.
 */
function drip(head: string, dripText: string): { closed: Promise<{ ms: number; text: string; dripped: number }>; socket: net.Socket } {
  const socket = net.connect({ port, host: "127.0.0.1" });
  const chunks: Buffer[] = [];
  let dripped = 0;
  const t0 = Date.now();
  socket.on("data", (c: Buffer) => chunks.push(c));
  socket.on("error", () => {});
  let timer: ReturnType<typeof setInterval> | undefined;
  socket.once("connect", () => {
    if (head) socket.write(head);
    timer = setInterval(() => {
      if (dripped < dripText.length && !socket.destroyed) socket.write(dripText[dripped++]!);
    }, 1000);
  });
  const closed = new Promise<{ ms: number; text: string; dripped: number }>((resolve) =>
    socket.once("close", () => {
      clearInterval(timer);
      resolve({ ms: Date.now() - t0, text: Buffer.concat(chunks).toString("latin1"), dripped });
    }),
  );
  return { closed, socket };
}

test("a header block sent one byte a second is closed by the header timeout (408)", { timeout: 60_000 }, async () => {
  const c = drip("", `POST /demo.v1.EchoService/Echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/proto\r\nX-Slow: ${"a".repeat(200)}\r\n\r\n`);
  try {
    // Without the timeout the connection stays open as long as bytes keep coming (minutes here).
    const r = await within(c.closed, 20_000, "the slow header's connection closed");
    assert.match(r.text, /^HTTP\/1\.1 408 /, "the server answered 408 Request Timeout");
    assert.ok(r.dripped < 150, `closed before the header block was complete (${r.dripped} bytes sent)`);
    console.log(`slow header closed after ${r.ms} ms (${r.dripped} bytes; header timeout ${HEADER_MS} ms)`);
    counts.slowHeaderMs = r.ms;
  } finally {
    c.socket.destroy();
  }
});

test("a body sent one byte a second is closed by the request timeout (408)", { timeout: 60_000 }, async () => {
  const body = Buffer.from(echoReq("x".repeat(150))).toString("latin1");
  const head = `POST /demo.v1.EchoService/Echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/proto\r\nContent-Length: ${body.length}\r\n\r\n`;
  const c = drip(head, body);
  try {
    const r = await within(c.closed, 20_000, "the slow body's connection closed");
    assert.match(r.text, /^HTTP\/1\.1 408 /, "the server answered 408 Request Timeout");
    assert.ok(r.dripped < body.length, `closed before the body was complete (${r.dripped} of ${body.length} bytes)`);
    console.log(`slow body closed after ${r.ms} ms (${r.dripped} bytes; request timeout ${REQUEST_MS} ms)`);
    counts.slowBodyMs = r.ms;
  } finally {
    c.socket.destroy();
  }
});

test("requests that arrive in time are served; a response that comes after the request timeout is not cut", { timeout: 60_000 }, async () => {
  const r = await httpRequest(`${stack.url}/demo.v1.EchoService/Echo`, { headers: { "content-type": "application/proto" }, body: echoReq("in time") });
  assert.equal(r.status, 200);
  // A Connect server stream over HTTP/1.1 whose response comes after 2 × the request timeout: the
  // request was complete at once, so the timeout no longer applies to it.
  const env = Buffer.alloc(5);
  const msg = Buffer.from(echoReq(`sleep:${2 * REQUEST_MS}`));
  env.writeUInt32BE(msg.length, 1);
  const t0 = Date.now();
  const s = await httpRequest(`${stack.url}/demo.v1.EchoService/EchoStream`, {
    headers: { "content-type": "application/connect+proto" },
    body: Buffer.concat([env, msg]),
  });
  assert.equal(s.status, 200);
  const text = Buffer.from(s.body).toString("latin1");
  assert.ok(!/"error"/.test(text), `the stream ended without an error (${text.slice(-200)})`);
  assert.match(text, /sleep:/, "the message came through");
  console.log(`a response came after ${Date.now() - t0} ms (request timeout ${REQUEST_MS} ms)`);
  summary("slowloris", counts);
  await assertNoLeaks(stack, base);
});
