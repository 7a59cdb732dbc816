/**
 * The parent's side of fixtures/gateway-process.ts: a Node gateway alone in a child process (its RSS
 * and its event loop are its own; the clients in the test process neither count nor slow it down).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

/** What the gateway process reports: `process.memoryUsage()` and its state. */
export interface GatewayProcessStats {
  rss: number;
  /** Peak RSS since the previous report (sampled every 10 ms). */
  peakRss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  /** Response bytes queued on its HTTP/2 streams. */
  queued: number;
  /** The Director's calls in flight. */
  inFlight: number;
  /** Calls finished so far, all codes. */
  calls: number;
  /** What the HTTP/2 limits did (`GrpcH2cServer.limitCounts()`). */
  limits: { streamsRefused: number; connectionsSentAway: number; resetConnectionBound: number; resetStalled: number };
}

/** A gateway process. */
export interface GatewayProcess {
  readonly url: string;
  readonly port: number;
  stats(): Promise<GatewayProcessStats>;
  stop(): Promise<void>;
}

/** Starts a gateway process on `natsUrl` with the raw (TOML-shaped) `config`; resolves once it listens. */
export async function startGatewayProcess(natsUrl: string, config: Record<string, unknown>): Promise<GatewayProcess> {
  const script = fileURLToPath(new URL("./fixtures/gateway-process.ts", import.meta.url));
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", script, natsUrl, JSON.stringify(config)], { stdio: ["pipe", "pipe", "inherit"] });
  let waiting: ((s: GatewayProcessStats) => void)[] = [];
  const url = await new Promise<string>((resolve, reject) => {
    child.once("exit", (c) => reject(new Error(`gateway process exited with ${c}`)));
    createInterface({ input: child.stdout! }).on("line", (l) => {
      const j = JSON.parse(l) as { url?: string } & GatewayProcessStats;
      if (j.url) return resolve(j.url);
      const w = waiting;
      waiting = [];
      for (const f of w) f(j);
    });
  });
  return {
    url,
    port: Number(new URL(url).port),
    stats: () =>
      new Promise((resolve) => {
        waiting.push(resolve);
        child.stdin!.write("stats\n");
      }),
    async stop() {
      if (child.exitCode !== null) return;
      const gone = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await gone;
    },
  };
}
