/**
 * Hostile clients: HTTP/2 clients that never read (issue 16 row 3). A raw client opens server streams
 * with a 1-byte initial window and never sends WINDOW_UPDATE; a flood node (its own process) pours
 * 64 KiB messages into each. The gateway runs alone in a child process, so its RSS is its own, with
 * `max_calls_per_ip` = 20, `max_buffered_bytes` = 4 MiB, `max_connection_buffered_bytes` = 8 MiB and
 * `write_stall_timeout_ms` = 30 s:
 * - waves of 20 streams, one connection each, connections kept: the first wave fills the address's
 *   share; the Director cancels each backend at the buffer limit, but the streams stay open with
 *   their bytes queued, so they still count — every later wave is refused (trailers-only), and the
 *   gateway's RSS stays within the bound (20 calls × (4 MiB + a message)), printed;
 * - the streams make no write progress: after the stall timeout each is reset (ENHANCE_YOUR_CALM),
 *   its bytes are freed and the address is served again;
 * - 20 streams on one connection (another address): the connection never holds more than its 8 MiB;
 *   the streams that write past it are reset (ENHANCE_YOUR_CALM);
 * - Connect streaming over h2c (through the gate, not the native gRPC handler): 20 never-reading
 *   streams keep their address's share after their calls ended, until the streams close.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import http2 from "node:http2";
import net from "node:net";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Code } from "@connectrpc/connect";
import { startStack, type Stack } from "../../helpers/gateway.js";
import { eventually } from "../../helpers/nats.js";
import { echoReq } from "../../helpers/echo-schema.js";
import { envelope } from "../../helpers/grpc-web.js";
import { RawH2 } from "../../helpers/raw-h2.js";
import { summary } from "../../helpers/soak.js";
import { startGatewayProcess, type GatewayProcess } from "./gateway-process.js";

const PER_IP = 20;
const MAX_BUFFERED = 4 * 1024 * 1024;
const MAX_CONNECTION_BUFFERED = 8 * 1024 * 1024;
const STALL_MS = 30_000;
const WAVES = 6;
const CHUNK_BYTES = 64 * 1024 + 4; // what the flood node sends per message
/** Messages the flood node offers per call: 6.4 MiB, past the buffer limit, with little left over in flight as garbage. */
const FLOOD_CHUNKS = 100;
/** What one stalled call may hold: its buffer limit, the message that crossed it, the stream's own 16 KiB mark, framing. */
const PER_CALL_BOUND = MAX_BUFFERED + 2 * CHUNK_BYTES + 16 * 1024;
const ENHANCE_YOUR_CALM = http2.constants.NGHTTP2_ENHANCE_YOUR_CALM;
const PATH = "/flood.v1.EchoService/EchoStream";

let stack: Stack;
let flood: ChildProcess;
let gw: GatewayProcess;
let port: number;

before(async () => {
  stack = await startStack({ nodes: 1 });
  flood = spawn(process.execPath, ["--import", "tsx", fileURLToPath(new URL("./fixtures/flood-node.ts", import.meta.url)), stack.nats.wsUrl, String(FLOOD_CHUNKS)], { stdio: ["pipe", "pipe", "inherit"] });
  const floodReady = new Promise<void>((resolve, reject) => {
    flood.once("exit", (c) => reject(new Error(`flood node exited with ${c}`)));
    createInterface({ input: flood.stdout! }).on("line", (l) => l === "ready" && resolve());
  });
  await floodReady;
  gw = await startGatewayProcess(stack.nats.wsUrl, {
    edge: {
      routes: { "flood.v1": "flood" },
      max_calls_per_ip: PER_IP,
      max_buffered_bytes: MAX_BUFFERED,
      max_connection_buffered_bytes: MAX_CONNECTION_BUFFERED,
      write_stall_timeout_ms: STALL_MS,
    },
  });
  port = gw.port;
  await eventually(async () => (await probe("127.0.0.9")) === 0, 15_000, "the gateway process serves the flood node");
});

after(async () => {
  await gw?.stop();
  if (flood && flood.exitCode === null) {
    const gone = new Promise((r) => flood.once("exit", r));
    flood.kill("SIGTERM");
    await gone;
  }
  await stack?.stop();
});

const mem = () => gw.stats();

/** One unary call from `from` with Node's client (it reads): its gRPC status. */
async function probe(from: string): Promise<number> {
  const s = http2.connect(gw.url, { createConnection: () => net.connect({ port, host: "127.0.0.1", localAddress: from }) });
  s.on("error", () => {});
  try {
    const req = s.request({ ":method": "POST", ":path": "/demo.v1.EchoService/Echo", "content-type": "application/grpc", te: "trailers" });
    req.on("error", () => {});
    let status = -1;
    req.on("response", (h) => h["grpc-status"] !== undefined && (status = Number(h["grpc-status"])));
    req.on("trailers", (t) => (status = Number(t["grpc-status"])));
    req.resume();
    req.end(envelope(echoReq("probe")));
    await new Promise<void>((resolve) => req.once("close", () => resolve()));
    return status;
  } finally {
    s.close();
  }
}

test("config: the keys' defaults, and bad values refused with the key named", async () => {
  const { resolveConfig } = await import("../../../src/config/index.js");
  const d = resolveConfig({});
  assert.deepEqual([d.maxConnectionBufferedBytes, d.writeStallTimeoutMs], [32 * 1024 * 1024, 60_000]);
  assert.throws(() => resolveConfig({ edge: { max_connection_buffered_bytes: -1 } }), /edge\.max_connection_buffered_bytes/);
  assert.throws(() => resolveConfig({ edge: { write_stall_timeout_ms: "soon" } }), /edge\.write_stall_timeout_ms/);
});

const open: RawH2[] = [];
/** A stream that never reads: its own connection (1-byte window) unless `conn` is given. */
async function neverRead(tag: string, conn?: RawH2): Promise<{ conn: RawH2; id: number }> {
  const c = conn ?? (await RawH2.connect(port, { initialWindowSize: 1 }));
  if (!conn) open.push(c);
  const id = c.request(PATH, { "content-type": "application/grpc", te: "trailers", "x-case": tag }, envelope(echoReq("flood")));
  return { conn: c, id };
}

const mib = (n: number) => (n / 2 ** 20).toFixed(1) + " MiB";
const counts: Record<string, number | string> = {};
let wave1: { conn: RawH2; id: number }[] = [];

test(`waves of ${PER_IP} never-reading streams: the first fills the address's share and keeps it; later waves are refused; RSS bounded`, { timeout: 180_000 }, async () => {
  const m0 = await mem();
  let accepted = 0;
  let refused = 0;
  for (let w = 1; w <= WAVES; w++) {
    const streams = await Promise.all(Array.from({ length: PER_IP }, (_, i) => neverRead(`wave${w}-${i}`)));
    for (const s of streams) await s.conn.until(() => s.conn.streams.get(s.id)!.headers || s.conn.streams.get(s.id)!.rstCode !== undefined, 30_000, `wave ${w}: an answer on each stream`);
    const ok = streams.filter((s) => !s.conn.streams.get(s.id)!.trailersOnly);
    accepted += ok.length;
    refused += streams.length - ok.length;
    if (w === 1) {
      wave1 = streams;
      assert.equal(ok.length, PER_IP, "the first wave is served");
    } else {
      // The share is still taken by the first wave's streams, whose calls ended at the buffer limit.
      assert.equal(ok.length, 0, `wave ${w}: refused while the first wave's streams are open (${ok.length} accepted)`);
    }
    // Every accepted call has run into its buffer limit: the Director cancelled its backend.
    await eventually(async () => (await mem()).inFlight === 0, 60_000, `wave ${w}: the Director's calls ended`);
    assert.ok(wave1.every((s) => s.conn.streams.get(s.id)!.rstCode === undefined), "the first wave's streams are still open");
  }
  const m1 = await mem();
  const grew = Math.max(m1.peakRss, m1.rss) - m0.rss;
  const bound = PER_IP * PER_CALL_BOUND;
  console.log(`RSS ${mib(m0.rss)} → ${mib(m1.rss)} (peak growth ${mib(grew)}); queued ${mib(m1.queued)}; external ${mib(m1.external)}; bound ${mib(bound)} queued for ${PER_IP} calls`);
  assert.ok(m1.queued <= bound, `response bytes queued (${mib(m1.queued)}) within ${PER_IP} × ${mib(PER_CALL_BOUND)}`);
  // RSS also carries the NATS traffic for the cancelled floods and the allocator's slack: twice the bound.
  assert.ok(grew < 2 * bound, `the gateway's RSS grew by ${mib(grew)} (< ${mib(2 * bound)})`);
  // The refusals were RESOURCE_EXHAUSTED: a reading client from the same address is refused the same way.
  assert.equal(await probe("127.0.0.1"), Code.ResourceExhausted, "the address's share is full");
  Object.assign(counts, { accepted, refused, rssGrowthMiB: Math.round(grew / 2 ** 20), queuedMiB: Math.round(m1.queued / 2 ** 20) });
});

test("after the stall timeout the never-reading streams are reset (ENHANCE_YOUR_CALM), their bytes freed, the address served again", { timeout: 120_000 }, async () => {
  const t0 = Date.now();
  for (const s of wave1) await s.conn.until(() => s.conn.streams.get(s.id)!.rstCode !== undefined, STALL_MS + 60_000, "the stalled stream is reset");
  console.log(`stalled streams reset ${Date.now() - t0} ms after the waves (stall timeout ${STALL_MS} ms)`);
  for (const s of wave1) assert.equal(s.conn.streams.get(s.id)!.rstCode, ENHANCE_YOUR_CALM);
  await eventually(async () => (await mem()).queued === 0, 10_000, "no response bytes queued");
  assert.equal(await probe("127.0.0.1"), 0, "the address is served again (OK)");
  counts.stalledReset = wave1.length;
});

test(`${PER_IP} never-reading streams on one connection: it holds at most ${mib(MAX_CONNECTION_BUFFERED)}; streams writing past it are reset`, { timeout: 120_000 }, async () => {
  const c = await RawH2.connect(port, { initialWindowSize: 1, localAddress: "127.0.0.2" });
  open.push(c);
  const streams = [];
  for (let i = 0; i < PER_IP; i++) streams.push(await neverRead(`conn-${i}`, c));
  // Every call has begun (headers) or its stream is reset: before that, "no call in flight" says nothing.
  for (const s of streams) await c.until(() => c.streams.get(s.id)!.headers || c.streams.get(s.id)!.rstCode !== undefined, 30_000, "an answer on each stream");
  // Each stream either runs into its own limit (its call is cancelled, the stream stays) or is reset.
  await eventually(async () => (await mem()).inFlight === 0, 60_000, "every call ended");
  const m = await mem();
  const reset = streams.filter((s) => c.streams.get(s.id)!.rstCode === ENHANCE_YOUR_CALM).length;
  console.log(`one connection: ${reset} of ${streams.length} streams reset; ${mib(m.queued)} queued (bound ${mib(MAX_CONNECTION_BUFFERED)})`);
  assert.ok(m.queued <= MAX_CONNECTION_BUFFERED + CHUNK_BYTES, `the connection holds ${mib(m.queued)}`);
  assert.ok(reset >= PER_IP - Math.ceil(MAX_CONNECTION_BUFFERED / MAX_BUFFERED) - 1, `streams past the connection's bound were reset (${reset})`);
  counts.connectionResets = reset;
  counts.connectionQueuedMiB = (m.queued / 2 ** 20).toFixed(1);
  for (const o of open) o.destroy();
  await eventually(async () => (await mem()).queued === 0, 10_000, "no response bytes queued once the clients are gone");
});

test(`Connect streaming over h2c through the gate: ${PER_IP} never-reading streams keep their address's share until their streams close`, { timeout: 120_000 }, async () => {
  const from = "127.0.0.3";
  const conns: RawH2[] = [];
  for (let i = 0; i < PER_IP; i++) {
    const c = await RawH2.connect(port, { initialWindowSize: 1, localAddress: from });
    conns.push(c);
    c.request(PATH, { "content-type": "application/connect+proto", "x-case": `connect-${i}` }, envelope(echoReq("flood")));
  }
  for (const c of conns) await c.until(() => c.streams.get(1)!.headers, 30_000, "response headers on each stream");
  await eventually(async () => (await mem()).inFlight === 0, 60_000, "every call ended at its buffer limit");
  // The calls are over, their streams are not: the address's share is still taken.
  assert.equal(await probe(from), Code.ResourceExhausted, "the address's share is full while the streams are open");
  for (const c of conns) c.destroy();
  await eventually(async () => (await probe(from)) === 0, 15_000, "the share is free once the streams closed");
  await eventually(async () => (await mem()).queued === 0, 10_000, "no response bytes queued");
  counts.connectStreamsHeld = PER_IP;
  summary("h2-never-read", counts);
});
