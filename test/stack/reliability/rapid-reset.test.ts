/**
 * Hostile clients: HTTP/2 rapid reset (CVE-2023-44487, issue 16 row 5). A raw client opens bidi
 * streams and resets each at once (HEADERS, then RST_STREAM CANCEL, 100 pairs every 50 ms: 2,000 a
 * second; the attack ran at 1,750), reconnecting whenever it is sent away, for 3 s. No limit
 * on open streams or calls ever sees these streams; the limits on abandoned streams do: `edge.h2_stream_rate` 50/s
 * with a burst of 100 per connection, `edge.h2_stream_rate_per_ip` 100/s with a burst of 200 per
 * client address (a quarter and a fifth of the defaults, so a short flood crosses them). The gateway
 * runs in its own process (the flood client must not slow it down, nor share its event loop). The client is sent GOAWAY ENHANCE_YOUR_CALM; the gateway handles no more calls
 * than the address's bucket allows; a client from another address (a probe every 50 ms) is served
 * throughout, and its latency during the flood is printed next to its latency before (no timing
 * assert). A raw NATS spy on `nrpc.>` sees nothing of the flood: its streams were reset before
 * their first request message, and the Director opens a backend call only with that message.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import net from "node:net";
import { startStack, type Stack } from "../../helpers/gateway.js";
import { eventually } from "../../helpers/nats.js";
import { within } from "../../helpers/wait.js";
import { echoReq } from "../../helpers/echo-schema.js";
import { NrpcSpy } from "../../helpers/nrpc-spy.js";
import { envelope } from "../../helpers/grpc-web.js";
import { RawH2 } from "../../helpers/raw-h2.js";
import { summary } from "../../helpers/soak.js";
import { startGatewayProcess, type GatewayProcess } from "./gateway-process.js";

const RATE = 50;
const BURST = 100;
const RATE_IP = 100;
const BURST_IP = 200;
const FLOOD_MS = 3000;
const ENHANCE_YOUR_CALM = http2.constants.NGHTTP2_ENHANCE_YOUR_CALM;

let stack: Stack;
let gw: GatewayProcess;
let spy: NrpcSpy;
let port: number;

before(async () => {
  stack = await startStack({ nodes: 1 });
  // The gateway runs in its own process: the flood client here must not slow it down, nor it the probes.
  gw = await startGatewayProcess(stack.nats.wsUrl, {
    edge: { h2_stream_rate: RATE, h2_stream_burst: BURST, h2_stream_rate_per_ip: RATE_IP, h2_stream_burst_per_ip: BURST_IP },
  });
  port = gw.port;
  spy = await NrpcSpy.start(stack.nats);
  await eventually(async () => {
    const r = await prober(0).stop();
    return r.codes.length > 0 && r.codes.every((c) => c === 0);
  }, 15_000, "the gateway process serves the demo node");
});
after(async () => {
  await spy?.close();
  await gw?.stop();
  await stack?.stop();
});

/** Calls the gateway has finished, all codes. */
const handled = async () => (await gw.stats()).calls;

/** Sequential unary calls from `from` on one HTTP/2 connection, every `everyMs`, until `stop()`: latencies and codes. */
function prober(everyMs: number, from = "127.0.0.2"): { stop(): Promise<{ ms: number[]; codes: number[] }> } {
  const session = http2.connect(gw.url, { createConnection: () => net.connect({ port, host: "127.0.0.1", localAddress: from }) });
  session.on("error", () => {});
  const ms: number[] = [];
  const codes: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const t0 = performance.now();
      const code = await new Promise<number>((resolve) => {
        const req = session.request({ ":method": "POST", ":path": "/demo.v1.EchoService/Echo", "content-type": "application/grpc", te: "trailers" });
        let status = -1;
        req.on("error", () => {});
        req.on("response", (h) => h["grpc-status"] !== undefined && (status = Number(h["grpc-status"])));
        req.on("trailers", (t) => (status = Number(t["grpc-status"])));
        req.resume();
        req.once("close", () => resolve(status));
        req.end(envelope(echoReq("probe")));
      });
      ms.push(performance.now() - t0);
      codes.push(code);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await within(loop, 30_000, "the probe loop's last request");
      session.close();
      return { ms, codes };
    },
  };
}

test("config: the keys' defaults, and bad values refused with the key named", async () => {
  const { resolveConfig } = await import("../../../src/config/index.js");
  const d = resolveConfig({});
  assert.deepEqual([d.h2StreamRate, d.h2StreamBurst, d.h2StreamRatePerIp, d.h2StreamBurstPerIp], [200, 400, 500, 1000]);
  assert.throws(() => resolveConfig({ edge: { h2_stream_rate: -1 } }), /edge\.h2_stream_rate/);
  assert.throws(() => resolveConfig({ edge: { h2_stream_burst_per_ip: 1.5 } }), /edge\.h2_stream_burst_per_ip/);
});

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? NaN;
const fmt = (xs: number[]) => `p50 ${pct(xs, 0.5).toFixed(1)} ms, p90 ${pct(xs, 0.9).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms (${xs.length} calls)`;

test(`rapid reset for ${FLOOD_MS} ms: GOAWAY ENHANCE_YOUR_CALM, calls bounded by the address's bucket, another address served`, { timeout: 120_000 }, async () => {
  // Probe latency with nothing else going on.
  const quiet = await (async () => {
    const p = prober(50);
    await new Promise((r) => setTimeout(r, 1500));
    return p.stop();
  })();

  const handled0 = await handled();
  const spyMark = spy.mark();
  const probes = prober(50);
  const bidi = "/demo.v1.EchoService/EchoBidi";
  const headers = { "content-type": "application/grpc", te: "trailers" };
  let opened = 0;
  let connections = 0;
  const goAways: number[] = [];
  const t0 = Date.now();
  while (Date.now() - t0 < FLOOD_MS) {
    const c = await RawH2.connect(port);
    connections++;
    while (Date.now() - t0 < FLOOD_MS && c.goAway === undefined && !c.closed) {
      const batch: Buffer[] = [];
      for (let i = 0; i < 100; i++) {
        const { id, frames } = c.requestFrames(bidi, headers);
        batch.push(frames, RawH2.rstFrame(id));
      }
      c.socket.write(Buffer.concat(batch));
      opened += 100;
      await new Promise((r) => setTimeout(r, 50));
    }
    if (c.goAway !== undefined) goAways.push(c.goAway);
    c.destroy();
  }
  const floodMs = Date.now() - t0;
  const during = await probes.stop();

  // Every call the flood got in has ended (each one was reset by its client).
  await eventually(async () => (await gw.stats()).inFlight === 0, 15_000, "the flood's calls ended");
  const calls = (await handled()) - handled0 - during.codes.length;
  const allowed = BURST_IP + (RATE_IP * floodMs) / 1000;
  // Everything the gateway published during the flood has reached the spy once a later call's has.
  const settled = await spy.settle(() => prober(0).stop(), ".Echo");
  const published = spy.subjects.slice(spyMark, settled).filter((s) => s.endsWith(".EchoBidi")).length;

  console.log(`flood: ${opened} streams opened and reset on ${connections} connections in ${floodMs} ms; ${goAways.length} GOAWAYs; the gateway handled ${calls} of them (the address's bucket allows ${allowed.toFixed(0)}); ${published} nrpc publishes for them`);
  console.log(`gateway limits: ${JSON.stringify((await gw.stats()).limits)}`);
  console.log(`probe latency before: ${fmt(quiet.ms)}`);
  console.log(`probe latency during: ${fmt(during.ms)}`);

  assert.ok(goAways.length > 0, "the flooding client was sent GOAWAY");
  assert.ok(goAways.every((c) => c === ENHANCE_YOUR_CALM), `GOAWAY ENHANCE_YOUR_CALM (${goAways.join(",")})`);
  assert.ok(calls <= allowed + RATE_IP, `the gateway handled ${calls} flood calls (bucket: ${allowed.toFixed(0)})`);
  // A stream reset before its first request message never reaches a backend (the Director opens the
  // backend call with the first message): not one publish for the flood's streams.
  assert.equal(published, 0, "no nrpc publish for a stream reset before its first message");
  assert.ok(during.codes.length > 0 && during.codes.every((c) => c === 0), `every probe from the other address was served (${during.codes.filter((c) => c !== 0).length} not OK)`);
  summary("rapid-reset", {
    streamsOpened: opened,
    connections,
    goAways: goAways.length,
    callsHandled: calls,
    nrpcPublishes: published,
    probeP50QuietMs: pct(quiet.ms, 0.5).toFixed(1),
    probeP50FloodMs: pct(during.ms, 0.5).toFixed(1),
    probeMaxFloodMs: Math.max(...during.ms).toFixed(1),
  });
});

test("the address is served again once its bucket refills; no call left open", { timeout: 60_000 }, async () => {
  // The bucket refills at RATE_IP a second: a fresh connection from the flooding address is served.
  await eventually(async () => {
    const p = prober(0, "127.0.0.1");
    await new Promise((r) => setTimeout(r, 50));
    const r = await p.stop();
    return r.codes.length > 0 && r.codes.every((c) => c === 0);
  }, 15_000, "served again");
  assert.equal((await gw.stats()).inFlight, 0);
});
