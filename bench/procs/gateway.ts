/**
 * The gateway process: `startNodeGateway` with the default config (loopback, port from `--port`, NATS
 * from `--nats`), a silent logger, no process metrics. `--auth-key=K` turns HS256 JWT auth on;
 * `--go-nodes=on` sends to the demo node with the Go-compatible (paced) sender (README "Go ION nodes").
 * Reports ready once the demo node is in its table. Commands: `stats` (calls in flight, memory),
 * `gc` (full GC, then memory), `hopsOn` / `hopsGet` (the latency breakdown of calls made one at a
 * time: hop recorder installed, HTTP hops marked from Node's request events; see bench/lib/hops.ts),
 * `copiesOn` / `copiesGet` (bytes copied in JS per call, by site; see bench/lib/copies.ts).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { resolveConfig } from "../../src/config/index.js";
import { connectNats } from "../../src/runtime/node/nats-connect.js";
import { silentLogger } from "../../src/observability/logger.js";
import { startNodeGateway } from "../../src/runtime/node/index.js";
import { setHopRecorder } from "../../src/nrpc/bench-hooks.js";
import { argv, serveCommands } from "../lib/child.js";
import { startCopyCount, type CopySites } from "../lib/copies.js";
import { gatewayHops, HopLog } from "../lib/hops.js";
import { sleep } from "../lib/latency.js";

const a = argv();
const raw: Record<string, unknown> = { signal: { grpc: { host: "127.0.0.1", port: Number(a["port"] ?? 0) } } };
if (a["auth-key"]) (raw["signal"] as Record<string, unknown>)["jwt"] = { enabled: true, key_type: "HMAC", key: a["auth-key"] };
if (a["go-nodes"]) raw["edge"] = { go_nodes: { demo: a["go-nodes"] } };
const config = resolveConfig(raw, {});
const nc = await connectNats(a["nats"]!, { name: "bench-gateway" });
const gw = await startNodeGateway({ config, nc, log: silentLogger, processMetrics: false });
while (gw.gateway.table.nodes("demo").length === 0) await sleep(10);

const memory = () => {
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers };
};
const hops = new HopLog(gatewayHops);
/**
 * HTTP hops from Node's objects: the request parsed (the listener runs), its body read ('end'), the
 * response written (`res.end` called: the bytes go to the socket in that call; 'finish' would come
 * one event-loop turn later, when libuv reports the write done).
 */
const onRequest = (req: IncomingMessage, res: ServerResponse) => {
  hops.mark("http-parsed");
  req.once("end", () => hops.mark("body-read"));
  const end = res.end;
  res.end = function (this: ServerResponse, ...a: unknown[]) {
    hops.mark("response-written");
    return (end as (...x: unknown[]) => ServerResponse).apply(this, a);
  } as typeof res.end;
};

let stopCopies: (() => CopySites) | undefined;
let calls = 0;
const countCall = () => void calls++;

serveCommands(
  {
    copiesOn: () => {
      calls = 0;
      gw.server.http1.on("request", countCall);
      stopCopies = startCopyCount();
    },
    copiesGet: () => {
      const sites = stopCopies?.() ?? {};
      stopCopies = undefined;
      gw.server.http1.off("request", countCall);
      return { calls, sites };
    },
    hopsOn: () => {
      hops.reset();
      setHopRecorder(hops.mark);
      gw.server.http1.prependListener("request", onRequest);
    },
    hopsGet: () => {
      setHopRecorder(undefined);
      gw.server.http1.off("request", onRequest);
      return hops.summary();
    },
    stats: () => ({ inFlight: gw.gateway.director.inFlight, ...memory() }),
    gc: async () => {
      const gc = (globalThis as { gc?: () => void }).gc;
      for (let i = 0; i < 3; i++) {
        gc?.();
        await sleep(20);
      }
      return memory();
    },
  },
  { url: gw.url, port: gw.port },
  async () => {
    await gw.close(100);
    await nc.close();
  },
);
