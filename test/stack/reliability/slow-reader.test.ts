/**
 * Fault: browsers that stop reading. A flood node offers 500 MiB on one server stream to each of four
 * clients at once — a grpc-websockets client whose socket is paused, Connect streaming and gRPC-Web
 * over HTTP/1.1 whose sockets are paused, and a native gRPC (h2c) client whose stream is paused —
 * 2 GiB in all, over a nats-grpc hop that has no flow control. The gateway must hold a bounded amount
 * (the peak of heap + ArrayBuffer memory grows by < 100 MB), cancel each backend stream with
 * RESOURCE_EXHAUSTED long before it sent its 500 MiB, and tell each client RESOURCE_EXHAUSTED once it
 * reads again. The flood node runs in a child process (fixtures/flood-node.ts) so that only the
 * gateway and the clients count. (test/stack/gateway/limits.test.ts covers one unread fetch; this adds the memory bound and
 * every protocol at once.)
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import http from "node:http";
import http2 from "node:http2";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import v8 from "node:v8";
import vm from "node:vm";
import { Code } from "@connectrpc/connect";
import { startStack, type Stack } from "../../helpers/gateway.js";
import { eventually } from "../../helpers/nats.js";
import { envelope, envelopes } from "../../helpers/grpc-web.js";
import { echoReq } from "../../helpers/echo-schema.js";
import { WsCall } from "../../helpers/grpc-websockets-client.js";
import { assertNoLeaks, baseline, type Baseline } from "./leak-check.js";
import { grpcWebOutcome } from "./wire-call.js";
import { summary } from "../../helpers/soak.js";

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

const CHUNK_BYTES = 64 * 1024 + 4; // EchoResponse{message: 64 KiB}
const CHUNKS = 8000;
const OFFERED = CHUNK_BYTES * CHUNKS; // ≈ 500 MiB per call
/** What the gateway may hold for four stalled calls (after GC), and its peak growth including garbage. */
const RETAINED_BOUND = 100 * 1024 * 1024;
const PEAK_BOUND = 200 * 1024 * 1024;

let stack: Stack;
let base: Baseline;
let node: ChildProcess;
/** Finished flood calls by `x-case`: bytes the node sent and the code its stream was ended with. */
const floods = new Map<string, { sent: number; code: number }>();

before(async () => {
  stack = await startStack({ nodes: 1, config: { edge: { routes: { "flood.v1": "flood" } } } });
  // The flood node runs in its own process: its send buffers must not count as gateway memory.
  const script = fileURLToPath(new URL("./fixtures/flood-node.ts", import.meta.url));
  node = spawn(process.execPath, ["--import", "tsx", script, stack.nats.wsUrl, String(CHUNKS)], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: node.stdout! });
  const ready = new Promise<void>((resolve, reject) => {
    node.once("exit", (c) => reject(new Error(`flood node exited with ${c}`)));
    lines.on("line", (l) => {
      if (l === "ready") return resolve();
      const r = JSON.parse(l) as { case: string; sent: number; code: number };
      floods.set(r.case, r);
    });
  });
  await ready;
  await stack.waitForNodes(1, "flood");
  base = await baseline(stack);
});

after(async () => {
  if (node && node.exitCode === null) {
    const gone = new Promise((r) => node.once("exit", r));
    node.kill("SIGTERM");
    await gone;
  }
  await stack?.stop();
});

const PATH = "/flood.v1.EchoService/EchoStream";

/** A client that stopped reading; `resume()` reads everything and returns the final status. */
interface SlowClient {
  name: string;
  resume(): Promise<number>;
}

async function slowWebSocket(): Promise<SlowClient> {
  const c = new WsCall(stack.wsUrl + PATH);
  await c.opened;
  c.ws.pause(); // the underlying net socket stops being read
  await c.start({ "x-case": "grpc-websockets" }, [echoReq("flood")], true);
  return {
    name: "grpc-websockets",
    async resume() {
      c.ws.resume();
      return (await c.result()).code;
    },
  };
}

async function slowHttp1(kind: "connect-stream" | "grpc-web"): Promise<SlowClient> {
  const headers: Record<string, string> =
    kind === "grpc-web" ? { "content-type": "application/grpc-web+proto", "x-grpc-web": "1", "x-case": kind } : { "content-type": "application/connect+proto", "x-case": kind };
  let socket: import("node:net").Socket | undefined;
  const response = new Promise<http.IncomingMessage>((resolve, reject) => {
    const req = http.request(stack.url + PATH, { method: "POST", headers, agent: false }, resolve);
    req.on("error", reject);
    req.on("socket", (s) => (socket = s));
    req.end(envelope(echoReq("flood")), () => socket?.pause()); // request sent; stop reading
  });
  response.catch(() => {});
  return {
    name: kind,
    async resume() {
      socket!.resume();
      const res = await response;
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      const body = new Uint8Array(Buffer.concat(chunks));
      if (kind === "grpc-web") {
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === "string") h.set(k, v);
        return grpcWebOutcome(h, body).code ?? -1;
      }
      // Connect streaming: the last envelope (flag 0x02) holds the end-stream JSON.
      const end = envelopes(body).filter((f) => f.flags & 0x02).at(-1)?.data;
      const j = JSON.parse(new TextDecoder().decode(end)) as { error?: { code: string } };
      return j.error?.code === "resource_exhausted" ? Code.ResourceExhausted : j.error ? -1 : 0;
    },
  };
}

async function slowGrpc(): Promise<SlowClient> {
  const session = http2.connect(stack.url);
  session.on("error", () => {});
  const req = session.request({ ":method": "POST", ":path": PATH, "content-type": "application/grpc", te: "trailers", "x-case": "grpc" });
  req.pause();
  let status = -1;
  req.on("response", (h) => {
    if (h["grpc-status"] !== undefined) status = Number(h["grpc-status"]);
  });
  req.on("trailers", (t) => (status = Number(t["grpc-status"])));
  req.end(envelope(echoReq("flood")));
  return {
    name: "grpc",
    async resume() {
      req.resume();
      await new Promise<void>((resolve) => {
        req.on("close", resolve);
        req.on("error", () => resolve());
      });
      session.close();
      return status;
    },
  };
}

test("four clients stop reading 500 MiB streams: bounded gateway memory, backends cancelled RESOURCE_EXHAUSTED, clients told", { timeout: 120_000 }, async () => {
  gc();
  const m0 = process.memoryUsage();
  const base0 = m0.heapUsed + m0.arrayBuffers;
  let peak = base0;
  let peakRss = m0.rss;
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    peak = Math.max(peak, m.heapUsed + m.arrayBuffers);
    peakRss = Math.max(peakRss, m.rss);
  }, 10);

  const clients = [await slowWebSocket(), await slowHttp1("connect-stream"), await slowHttp1("grpc-web"), await slowGrpc()];
  try {
    // Every backend stream is cancelled by the gateway while the clients still do not read.
    await eventually(() => clients.every((c) => floods.has(c.name)), 60_000, "every flood ended");
  } finally {
    clearInterval(sampler);
  }
  const delta = peak - base0;
  // What the gateway still holds for the four stalled clients.
  gc();
  const m1 = process.memoryUsage();
  const retained = m1.heapUsed + m1.arrayBuffers - base0;
  for (const c of clients) {
    const f = floods.get(c.name)!;
    assert.equal(f.code, Code.ResourceExhausted, `${c.name}: the backend stream was cancelled RESOURCE_EXHAUSTED (sent ${f.sent} bytes)`);
    assert.ok(f.sent < OFFERED / 4, `${c.name}: the backend stopped early (${(f.sent / 2 ** 20).toFixed(1)} MiB of ${(OFFERED / 2 ** 20).toFixed(0)} MiB)`);
  }
  const mib = (n: number) => (n / 2 ** 20).toFixed(1) + " MiB";
  assert.ok(retained < RETAINED_BOUND, `the gateway holds ${mib(retained)} for four stalled clients (${mib(4 * OFFERED)} offered)`);
  assert.ok(delta < PEAK_BOUND, `peak heap + buffers grew by ${mib(delta)}, garbage included (${mib(4 * OFFERED)} offered)`);

  // Reading again: what was buffered, then RESOURCE_EXHAUSTED.
  for (const c of clients) assert.equal(await c.resume(), Code.ResourceExhausted, `${c.name}: the client is told RESOURCE_EXHAUSTED`);

  summary("slow-reader", {
    slowClients: clients.length,
    offeredMiB: Math.round((4 * OFFERED) / 2 ** 20),
    sentByBackendsMiB: Math.round(clients.reduce((n, c) => n + floods.get(c.name)!.sent, 0) / 2 ** 20),
    peakHeapPlusBuffersDeltaMiB: Math.round(delta / 2 ** 20),
    retainedAfterGcMiB: Math.round(retained / 2 ** 20),
    peakRssMiB: Math.round(peakRss / 2 ** 20),
  });
});

test("no leaks after the slow-reader suite", async () => {
  await assertNoLeaks(stack, base);
});
