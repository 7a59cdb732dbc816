/**
 * HTTP load (autocannon, programmatic, in this separate process). One autocannon run per command:
 * `connections` keep-alive connections × 1 request each (= in flight), warm-up then the measured
 * window. autocannon's own histogram has 1 ms resolution, so latencies are taken from its `response`
 * event (hrtime, µs precision) into our own recorder.
 */
import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";
import { argv, cpuMicros, emit, serveCommands } from "../lib/child.js";
import { Latencies, type LoadResult } from "../lib/latency.js";

const require = createRequire(import.meta.url);
const autocannon = require("autocannon") as (opts: Record<string, unknown>, cb: (err: unknown, res: unknown) => void) => import("node:events").EventEmitter & { stop(): void };

export interface HttpRunArgs {
  url: string;
  method?: string;
  headers: Record<string, string>;
  /** base64 */
  body?: string;
  connections: number;
  warmupMs: number;
  durationMs: number;
}

async function run(a: HttpRunArgs): Promise<LoadResult> {
  const lat = new Latencies();
  let measuring = false;
  let count = 0;
  let errors = 0;
  let start = 0;
  let end = 0;
  let cpu0 = process.cpuUsage();
  let cpuUs = 0;
  const body = a.body !== undefined ? Buffer.from(a.body, "base64") : undefined;
  const inst = autocannon(
    {
      url: a.url,
      method: a.method ?? "POST",
      headers: a.headers,
      body,
      connections: a.connections,
      pipelining: 1,
      duration: (a.warmupMs + a.durationMs) / 1000 + 5,
      timeout: 20,
    },
    () => {},
  );
  inst.on("response", (_client: unknown, status: number, _bytes: number, ms: number) => {
    if (!measuring) return;
    if (status !== 200) errors++;
    else {
      count++;
      lat.push(ms);
    }
  });
  inst.on("reqError", () => {
    if (measuring) errors++;
  });
  const done = new Promise<void>((r) => inst.once("done", () => r()));
  await new Promise((r) => setTimeout(r, a.warmupMs));
  emit("measure-start");
  measuring = true;
  start = performance.now();
  cpu0 = process.cpuUsage();
  await new Promise((r) => setTimeout(r, a.durationMs));
  measuring = false;
  end = performance.now();
  cpuUs = cpuMicros(cpu0);
  emit("measure-end");
  inst.stop();
  await done;
  const durationMs = end - start;
  return { count, durationMs, rate: (count * 1000) / durationMs, lat: lat.summary(), errors, cpuUs };
}

argv();
serveCommands({ run });
