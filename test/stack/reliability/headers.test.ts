/**
 * Hostile clients: header smuggling and oversized or malformed headers, byte by byte.
 * - HTTP/1.1 on a raw socket: Content-Length with Transfer-Encoding (a smuggled second request in the
 *   body), duplicated Content-Length, obfuscated Transfer-Encoding, bare CR, NUL, obs-fold, a space in
 *   a name, a 20 KiB header, many duplicated headers → a clear 4xx (or RESOURCE_EXHAUSTED), the
 *   connection closed where the framing is ambiguous, and the smuggled request never runs;
 * - HTTP/2: a 100 KiB header value, 300 duplicated headers → a clear error, the session survives
 *   for the next client;
 * - grpc-websockets: a header frame with a 60 KiB line, 500 duplicated lines, a text frame → a status;
 *   a 1 MB line, or any message announcing far more than the session accepts (50 MiB) → the socket is
 *   closed (1009) as soon as the frame header is read: nothing is buffered towards it.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import http2 from "node:http2";
import { Code } from "@connectrpc/connect";
import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import { connectNats } from "../../../src/runtime/node/nats-connect.js";
import { startStack, type Stack } from "../../helpers/gateway.js";
import { echoReq } from "../../helpers/echo-schema.js";
import { WsCall } from "../../helpers/grpc-websockets-client.js";
import { assertNoLeaks, baseline, type Baseline } from "./leak-check.js";
import { rawCall } from "./wire-call.js";
import { rawExchange } from "./raw-http.js";
import { RawWebSocket } from "../../helpers/raw-websocket.js";
import { summary } from "../../helpers/soak.js";
import { grpcWsFrames } from "../../helpers/grpc-websockets-client.js";

const MAX_METADATA = 4096;
const MAX_MESSAGE = 64 * 1024;

let stack: Stack;
let base: Baseline;
let port: number;
let spyNc: NatsConnection;
let spy: Subscription;
/** Payloads published on nrpc.> (what reached any node), latin1. */
const toNodes: string[] = [];
const counts = { http1: 0, http2: 0, websocket: 0 };

before(async () => {
  stack = await startStack({ nodes: 1, config: { edge: { max_metadata_bytes: MAX_METADATA, max_message_bytes: MAX_MESSAGE } } });
  port = Number(new URL(stack.url).port);
  spyNc = await connectNats(stack.nats.wsUrl, { name: "test-nrpc-spy" });
  spy = spyNc.subscribe("nrpc.>", { callback: (_e, m) => void toNodes.push(Buffer.from(m.data).toString("latin1")) });
  await spyNc.flush();
  base = await baseline(stack);
});
after(async () => {
  spy?.unsubscribe();
  await spyNc?.close();
  await stack?.stop();
});

const json = (message: string) => JSON.stringify({ message });
const echoPost = (headers: string, body: string) => `POST /demo.v1.EchoService/Echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${headers}\r\n${body}`;
const smuggled = (marker: string) => {
  const b = json(marker);
  return `POST /demo.v1.EchoService/Echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${b.length}\r\n\r\n${b}`;
};
const status = (text: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);

test("HTTP/1.1 smuggling and malformed headers: a clear 4xx, the ambiguous connection closed, the smuggled request never runs", { timeout: 60_000 }, async () => {
  const cases: { name: string; raw: string; want: number[]; marker?: string }[] = [];
  const m1 = "SMUGGLED-CL-TE";
  const inner1 = smuggled(m1);
  cases.push({ name: "Content-Length + Transfer-Encoding", raw: echoPost(`Content-Length: 4\r\nTransfer-Encoding: chunked\r\n`, `0\r\n\r\n${inner1}`), want: [400], marker: m1 });
  const m2 = "SMUGGLED-TE-CL";
  const inner2 = smuggled(m2);
  const chunk = `${(json("a").length).toString(16)}\r\n${json("a")}\r\n0\r\n\r\n`;
  cases.push({ name: "Transfer-Encoding + Content-Length (TE.CL)", raw: echoPost(`Transfer-Encoding: chunked\r\nContent-Length: ${chunk.length + inner2.length}\r\n`, chunk + inner2), want: [400], marker: m2 });
  const m3 = "SMUGGLED-TE-OBF";
  cases.push({ name: "obfuscated Transfer-Encoding", raw: echoPost(`Transfer-Encoding: xchunked\r\nContent-Length: 4\r\n`, `0\r\n\r\n${smuggled(m3)}`), want: [400, 501], marker: m3 });
  const m4 = "SMUGGLED-TE-SPACE";
  cases.push({ name: "Transfer-Encoding with a space before the colon", raw: echoPost(`Transfer-Encoding : chunked\r\nContent-Length: 4\r\n`, `0\r\n\r\n${smuggled(m4)}`), want: [400], marker: m4 });
  cases.push({ name: "two different Content-Lengths", raw: echoPost(`Content-Length: 2\r\nContent-Length: 16\r\n`, json("cl")), want: [400] });
  cases.push({ name: "bare CR in a header value", raw: echoPost(`Content-Length: 16\r\nX-A: b\rX-Ion-Uid: forged\r\n`, json("cr")), want: [400] });
  cases.push({ name: "NUL in a header value", raw: echoPost(`Content-Length: 16\r\nX-A: b\0c\r\n`, json("nu")), want: [400] });
  cases.push({ name: "obs-fold continuation line", raw: echoPost(`Content-Length: 16\r\nX-A: b\r\n x-ion-uid: forged\r\n`, json("of")), want: [400] });
  cases.push({ name: "a space in a header name", raw: echoPost(`Content-Length: 16\r\nX A: b\r\n`, json("sp")), want: [400] });
  cases.push({ name: "a 20 KiB header", raw: echoPost(`Content-Length: 16\r\nX-Big: ${"b".repeat(20 * 1024)}\r\n`, json("bi")), want: [431] });
  for (const c of cases) {
    const { text, closed } = await rawExchange(port, c.raw, 5000);
    counts.http1++;
    assert.ok(c.want.includes(status(text)), `${c.name}: HTTP ${status(text)} (${JSON.stringify(text.slice(0, 80))})`);
    assert.ok(closed, `${c.name}: the connection is closed`);
    assert.equal((text.match(/HTTP\/1\.1 /g) ?? []).length, 1, `${c.name}: exactly one response`);
  }
  // Many duplicated headers under Node's 16 KiB but over edge.max_metadata_bytes: RESOURCE_EXHAUSTED.
  const dups = Array.from({ length: 200 }, (_, i) => `X-Dup: ${i}-${"d".repeat(40)}\r\n`).join("");
  const { text } = await rawExchange(port, echoPost(`Content-Length: 16\r\nConnection: close\r\n${dups}`, json("du")), 5000);
  counts.http1++;
  assert.equal(status(text), 429, "duplicated headers count against the metadata limit");
  assert.match(text, /"code":"resource_exhausted"/);
  // A control call on the same kind of connection, then: none of the smuggled requests reached a node.
  const ok = await rawExchange(port, echoPost(`Content-Length: ${json("control-h1").length}\r\nConnection: close\r\n`, json("control-h1")), 5000);
  assert.equal(status(ok.text), 200);
  await spyNc.flush();
  for (const c of cases) if (c.marker) assert.ok(!toNodes.some((p) => p.includes(c.marker!)), `${c.name}: the smuggled request never reached a node`);
  assert.ok(toNodes.some((p) => p.includes("control-h1")), "the control call did");
});

test("HTTP/2: a 100 KiB header value and 300 duplicated headers get a clear error; the next client is served", { timeout: 60_000 }, async () => {
  const call = (headers: Record<string, string | string[]>) =>
    new Promise<{ status?: number; grpc?: string; error?: string }>((resolve) => {
      const session = http2.connect(stack.url);
      session.on("error", () => {});
      const req = session.request({ ":method": "POST", ":path": "/demo.v1.EchoService/Echo", "content-type": "application/grpc", te: "trailers", ...headers });
      const out: { status?: number; grpc?: string; error?: string } = {};
      req.on("response", (h) => {
        out.status = Number(h[":status"]);
        if (h["grpc-status"] !== undefined) out.grpc = String(h["grpc-status"]);
      });
      req.on("trailers", (t) => (out.grpc = String(t["grpc-status"])));
      req.on("data", () => {});
      req.on("error", (e) => (out.error = String(e)));
      req.on("close", () => {
        session.close();
        resolve(out);
      });
      const m = echoReq("h2");
      const f = Buffer.alloc(5 + m.length);
      f.writeUInt32BE(m.length, 1);
      f.set(m, 5);
      req.end(f);
    });
  const big = await call({ "x-big": "b".repeat(100 * 1024) });
  counts.http2++;
  assert.ok(big.grpc === String(Code.ResourceExhausted) || big.status === 431 || /NGHTTP2|ERR_HTTP2/.test(big.error ?? ""), `100 KiB header: ${JSON.stringify(big)}`);
  const dup = await call({ "x-dup": Array.from({ length: 300 }, (_, i) => `${i}-${"d".repeat(20)}`) });
  counts.http2++;
  assert.ok(dup.grpc === String(Code.ResourceExhausted) || /NGHTTP2|ERR_HTTP2/.test(dup.error ?? ""), `300 duplicated headers: ${JSON.stringify(dup)}`);
  const ok = await call({});
  assert.equal(ok.grpc, "0", "the next HTTP/2 client is served");
});

/** Console errors while a test runs (a runtime glue that throws into console.error is a bug too). */
async function noConsoleErrors<T>(fn: () => Promise<T>): Promise<T> {
  const errors: string[] = [];
  const orig = console.error;
  console.error = (...a: unknown[]) => void errors.push(a.map(String).join(" "));
  try {
    const r = await fn();
    await new Promise((res) => setTimeout(res, 50));
    assert.deepEqual(errors, [], "nothing was printed to console.error");
    return r;
  } finally {
    console.error = orig;
  }
}

test("grpc-websockets: a 1 MB header line, 500 duplicated lines, a text header frame → a status; a 50 MiB message is refused unread", { timeout: 60_000 }, () => noConsoleErrors(async () => {
  const frameOf = async (block: Buffer | string): Promise<{ get(k: string): string | undefined; close: number | undefined }> => {
    const ws = await RawWebSocket.open(port, "/demo.v1.EchoService/Echo");
    if (typeof block === "string") {
      // A text WebSocket message (opcode 1).
      const mask = randomBytes(4);
      const p = Buffer.from(block);
      ws.socket.write(Buffer.concat([RawWebSocket.frameHeader(p.length, mask, 0x1), RawWebSocket.masked(p, mask)]));
    } else ws.send(block);
    assert.ok(await ws.waitClosed(10_000), "closed");
    counts.websocket++;
    const t = grpcWsFrames(ws.data).trailers;
    return { get: (k) => t?.get(k), close: ws.closeCode };
  };
  // Over edge.max_metadata_bytes but within one WebSocket message: RESOURCE_EXHAUSTED in the trailers.
  const long = await frameOf(Buffer.from(`x-long: ${"l".repeat(60 * 1024)}\r\n`));
  assert.equal(long.get("grpc-status"), String(Code.ResourceExhausted), "60 KiB header line");
  // Over twice the largest WebSocket message the session takes (2 × (max_message_bytes + 6) here): closed 1009.
  const line = await frameOf(Buffer.from(`x-long: ${"l".repeat(1024 * 1024)}\r\n`));
  assert.ok(line.get("grpc-status") === String(Code.ResourceExhausted) || line.close === 1009, `1 MB header line: ${line.get("grpc-status")} / close ${line.close}`);
  const many = await frameOf(Buffer.from(Array.from({ length: 500 }, (_, i) => `x-dup: ${i}\r\n`).join("")));
  assert.equal(many.get("grpc-status"), String(Code.ResourceExhausted), "500 duplicated lines");
  const text = await frameOf("content-type: application/grpc-web+proto\r\n");
  assert.equal(text.get("grpc-status"), String(Code.InvalidArgument), "a text header frame");

  // A message that announces 50 MiB: the gateway must not wait for (and buffer) it.
  const ws = await RawWebSocket.open(port, "/demo.v1.EchoService/EchoBidi");
  ws.send(Buffer.from("content-type: application/grpc-web+proto\r\n"));
  const mask = randomBytes(4);
  ws.socket.write(RawWebSocket.frameHeader(50 * 1024 * 1024, mask));
  ws.socket.write(RawWebSocket.masked(new Uint8Array(256 * 1024), mask));
  const closed = await ws.waitClosed(5000);
  counts.websocket++;
  ws.destroy();
  assert.ok(closed, "the socket is closed on the frame header, not after 50 MiB");
  assert.ok(ws.closeCode === undefined || ws.closeCode === 1009, `close code ${ws.closeCode} (1009: message too big)`);

  // The gateway serves the next WebSocket client.
  const c = new WsCall(stack.wsUrl + "/demo.v1.EchoService/Echo");
  await c.start({}, [echoReq("after")], true);
  assert.equal((await c.result()).code, 0);
}));

test("no leaks after the header suite", async () => {
  const ok = await rawCall("grpc-web", stack.url, "/demo.v1.EchoService/Echo", echoReq("fine"));
  assert.equal(ok.code, 0);
  await assertNoLeaks(stack, base);
  summary("headers", counts);
});
