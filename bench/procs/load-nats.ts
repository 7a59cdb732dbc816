/**
 * The raw NATS floor: request/reply over TCP or WebSocket (by the `--nats` URL, as the gateway) to the TCP
 * responder's `bench.echo`, `concurrency` requests in flight, with the same payload bytes.
 */
import { performance } from "node:perf_hooks";
import type { NatsConnection } from "@nats-io/nats-core";
import { connectNats } from "../../src/runtime/node/nats-connect.js";
import { argv, cpuMicros, emit, serveCommands } from "../lib/child.js";
import { Latencies, type LoadResult } from "../lib/latency.js";

const a = argv();
const nc: NatsConnection = await connectNats(a["nats"]!, { name: "bench-nats-load" });

interface NatsRunArgs {
  subject: string;
  /** base64 */
  payload: string;
  concurrency: number;
  warmupMs: number;
  durationMs: number;
}

async function run(r: NatsRunArgs): Promise<LoadResult> {
  const payload = new Uint8Array(Buffer.from(r.payload, "base64"));
  const lat = new Latencies();
  let measuring = false;
  let stop = false;
  let count = 0;
  let errors = 0;
  const loop = async () => {
    while (!stop) {
      const t = performance.now();
      try {
        const m = await nc.request(r.subject, payload, { timeout: 10_000 });
        if (measuring) {
          if (m.data.length !== payload.length) errors++;
          else {
            count++;
            lat.push(performance.now() - t);
          }
        }
      } catch {
        if (measuring) errors++;
      }
    }
  };
  const loops = Array.from({ length: r.concurrency }, loop);
  await new Promise((res) => setTimeout(res, r.warmupMs));
  emit("measure-start");
  measuring = true;
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  await new Promise((res) => setTimeout(res, r.durationMs));
  measuring = false;
  const durationMs = performance.now() - start;
  const cpuUs = cpuMicros(cpu0);
  emit("measure-end");
  stop = true;
  await Promise.all(loops);
  return { count, durationMs, rate: (count * 1000) / durationMs, lat: lat.summary(), errors, cpuUs };
}

serveCommands({ run }, {}, () => nc.close());
