/**
 * The gateway process: `startNodeGateway` with the default config (loopback, port from `--port`, NATS
 * from `--nats`), a silent logger, no process metrics. `--auth-key=K` turns HS256 JWT auth on;
 * `--go-nodes=on` sends to the demo node with the Go-compatible (paced) sender (README "Go ION nodes").
 * Reports ready once the demo node is in its table. Commands: `stats` (calls in flight, memory),
 * `gc` (full GC, then memory).
 */
import { resolveConfig } from "../../src/config/index.js";
import { connectNats } from "../../src/runtime/node/nats-connect.js";
import { silentLogger } from "../../src/observability/logger.js";
import { startNodeGateway } from "../../src/runtime/node/index.js";
import { argv, serveCommands } from "../lib/child.js";
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
serveCommands(
  {
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
