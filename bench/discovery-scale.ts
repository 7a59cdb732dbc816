/**
 * Discovery and placement at scale, measured: one nats-server (JetStream), a process with a registry
 * and N simulated nodes speaking the real gob keepalive (bench/procs/sim-nodes.ts), and, in this
 * process, what a gateway runs for them — the discovery sync (NodeTable + syncDiscovery) and the
 * sticky balancer with its JetStream KV placement store. For each N: a fresh gateway's sync time,
 * this process's CPU per keepalive and heap per node, placement latency of new and of cached rooms,
 * and the bucket's size. Writes bench/results/discovery-scale-<date>.md. Node only:
 *
 *   node --expose-gc --import tsx bench/discovery-scale.ts [--nodes 1000,10000] [--rooms 100000] [--max-payload 8388608]
 */
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { createBalancer, openPlacementStore, parseBalancerConfig } from "../src/balancer/index.js";
import { startNatsServer } from "../src/cli/nats-server.js";
import { NodeTable, syncDiscovery } from "../src/discovery/index.js";
import { connectNats } from "../src/runtime/node/nats-connect.js";
import { createMetadata } from "../src/core/metadata.js";
import { Latencies, sleep, type LatencySummary } from "./lib/latency.js";
import { startProc } from "./lib/proc.js";

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: { nodes: { type: "string" }, rooms: { type: "string" }, "max-payload": { type: "string" }, out: { type: "string" } } });
const sizes = (values.nodes ?? "1000,10000").split(",").map(Number);
const roomCount = Number(values.rooms ?? 100_000);
const maxPayload = values["max-payload"] ? Number(values["max-payload"]) : undefined;
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const log = (s: string) => console.log(`[discovery-scale] ${s}`);

interface Row {
  nodes: number;
  syncMs: number;
  cpuPerKeepaliveUs: number;
  keepalivesPerS: number;
  heapPerNodeB: number;
  newRoom: LatencySummary;
  newRoomLoaded: LatencySummary;
  newRoomsPerS: number;
  cachedRoom: LatencySummary;
  cachedSync: number;
  bucketBytes: number;
  bucketValues: number;
}

async function measure(natsUrl: string, n: number): Promise<Row> {
  const sim = await startProc("sim-nodes", join(here, "procs/sim-nodes.ts"), [`--nats=${natsUrl}`, `--nodes=${n}`], ["--import", "tsx"], undefined, 120_000);
  try {
    // A fresh gateway: connect, read the registry, watch.
    const nc = await connectNats(natsUrl, { name: "bench-gateway" });
    gc();
    const heap0 = process.memoryUsage().heapUsed;
    const t0 = performance.now();
    const table = new NodeTable({ expireMs: 7000 });
    const sync = await syncDiscovery(nc, table, { requestTimeoutMs: 30_000 });
    const syncMs = performance.now() - t0;
    if (table.nodes("rtc").length < n) throw new Error(`synced ${table.nodes("rtc").length} of ${n} nodes`);
    await sleep(3000); // a keepalive round for every node
    gc();
    const heapPerNodeB = (process.memoryUsage().heapUsed - heap0) / n;
    log(`${n} nodes: synced in ${syncMs.toFixed(0)} ms, ${heapPerNodeB.toFixed(0)} B heap per node`);

    // CPU per keepalive: this process does nothing else for 10 s.
    const s0 = (await sim.call<{ sent: number }>("stats")).sent;
    const c0 = process.cpuUsage();
    const w0 = performance.now();
    await sleep(10_000);
    const cpu = process.cpuUsage(c0);
    const wall = (performance.now() - w0) / 1000;
    const kept = (await sim.call<{ sent: number }>("stats")).sent - s0;
    const cpuPerKeepaliveUs = (cpu.user + cpu.system) / kept;
    log(`${n} nodes: ${(kept / wall).toFixed(0)} keepalives/s, ${cpuPerKeepaliveUs.toFixed(1)} µs CPU each`);
    if (table.nodes("rtc").length !== n) throw new Error(`table holds ${table.nodes("rtc").length} of ${n} nodes after 10 s`);

    // Placement: `roomCount` new rooms (64 in flight), then the most recent cache-size worth again.
    const bucket = `bench_scale_${n}`;
    const store = await openPlacementStore(nc, { bucket, onError: (e, c) => log(`${c}: ${e}`) });
    if (!store) throw new Error("no JetStream KV");
    const config = parseBalancerConfig({ services: { rtc: "sticky" }, placement: { bucket } });
    const balancer = createBalancer(config, { store, onError: (e, w) => log(`balancer ${w}: ${e}`) });
    const nodes = table.nodes("rtc");
    const pick = (room: string) => balancer.pick("rtc", nodes, { metadata: createMetadata({ sid: room }) });
    // Latency of a new room alone (1 in flight: a KV get + create round trip), for the first 1,000;
    // then the rest 64 in flight, for the rate one gateway can place at.
    const fresh = new Latencies();
    const alone = Math.min(1000, roomCount);
    for (let i = 0; i < alone; i++) {
      const t = performance.now();
      if (!(await pick(`room-${i}`))) throw new Error(`no node for room-${i}`);
      fresh.push(performance.now() - t);
    }
    const loaded = new Latencies();
    let next = alone;
    const p0 = performance.now();
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next < roomCount) {
          const room = `room-${next++}`;
          const t = performance.now();
          const r = await pick(room);
          if (!r) throw new Error(`no node for ${room}`);
          loaded.push(performance.now() - t);
        }
      }),
    );
    const newRoomsPerS = (roomCount - alone) / ((performance.now() - p0) / 1000);
    const cached = new Latencies();
    let cachedSync = 0;
    const recent = Math.min(roomCount, config.placement.maxCacheEntries);
    for (let i = roomCount - recent; i < roomCount; i++) {
      const t = performance.now();
      const r = pick(`room-${i}`);
      if (!(r instanceof Promise)) cachedSync++;
      await r;
      cached.push(performance.now() - t);
    }
    const st = await new Kvm(jetstream(nc)).open(bucket).then((kv) => kv.status());
    log(`${n} nodes: new room alone p50 ${fresh.summary().p50.toFixed(2)} ms; ${roomCount - alone} more at ${newRoomsPerS.toFixed(0)}/s, p50 ${loaded.summary().p50.toFixed(2)} ms; cached p50 ${(cached.summary().p50 * 1000).toFixed(1)} µs; bucket ${st.size} B`);
    await balancer.close();
    await store.close();
    await (await new Kvm(jetstream(nc)).open(bucket)).destroy();
    await sync.close();
    table.close();
    await nc.close();
    return {
      nodes: n,
      syncMs,
      cpuPerKeepaliveUs,
      keepalivesPerS: kept / wall,
      heapPerNodeB,
      newRoom: fresh.summary(),
      newRoomLoaded: loaded.summary(),
      newRoomsPerS,
      cachedRoom: cached.summary(),
      cachedSync: cachedSync / recent,
      bucketBytes: st.size,
      bucketValues: st.values,
    };
  } finally {
    await sim.stop();
  }
}

const nats = await startNatsServer({ jetstream: true, maxPayload });
const rows: Row[] = [];
try {
  for (const n of sizes) rows.push(await measure(nats.url, n));
} finally {
  await nats.stop();
}

const f = (x: number, d = 1) => x.toFixed(d);
const slope = (get: (r: Row) => number) => (rows.length > 1 ? `×${f(get(rows[rows.length - 1]!) / get(rows[0]!), 2)}` : "");
const date = new Date().toISOString().slice(0, 10);
const md = [
  `# Discovery and placement at scale (${date})`,
  "",
  "```sh",
  `node --expose-gc --import tsx bench/discovery-scale.ts --nodes ${sizes.join(",")} --rooms ${roomCount}${maxPayload ? ` --max-payload ${maxPayload}` : ""}`,
  "```",
  "",
  `One nats-server 2.9 (JetStream, max_payload ${maxPayload ?? "default 1 MiB"}), a process with the registry and the simulated nodes (real gob keepalives every 2 s), and in the bench process the gateway's discovery (NodeTable + syncDiscovery) and sticky balancer (JetStream KV store, default cache of ${parseBalancerConfig({}).placement.maxCacheEntries} placements). Loopback, a shared 2-core machine: absolute figures are noisy, ratios between rows less so.`,
  "",
  `| nodes | fresh sync | keepalives/s | CPU per keepalive | heap per node | new room p50 / p99 (1 in flight) | new rooms/s, p50 / p99 (64 in flight) | cached room p50 / p99 (sync share) | bucket (${roomCount} rooms) |`,
  "|---|---|---|---|---|---|---|---|---|",
  ...rows.map(
    (r) =>
      `| ${r.nodes} | ${f(r.syncMs, 0)} ms | ${f(r.keepalivesPerS, 0)} | ${f(r.cpuPerKeepaliveUs)} µs | ${f(r.heapPerNodeB / 1024, 2)} KiB | ${f(r.newRoom.p50, 2)} / ${f(r.newRoom.p99, 2)} ms | ${f(r.newRoomsPerS, 0)}, ${f(r.newRoomLoaded.p50, 1)} / ${f(r.newRoomLoaded.p99, 1)} ms | ${f(r.cachedRoom.p50 * 1000, 1)} / ${f(r.cachedRoom.p99 * 1000, 1)} µs (${f(r.cachedSync * 100, 0)}%) | ${f(r.bucketBytes / 1024 / 1024, 1)} MiB, ${r.bucketValues} values |`,
  ),
  "",
  rows.length > 1
    ? `Growth from ${rows[0]!.nodes} to ${rows[rows.length - 1]!.nodes} nodes (×${rows[rows.length - 1]!.nodes / rows[0]!.nodes}): sync time ${slope((r) => r.syncMs)}, CPU per keepalive ${slope((r) => r.cpuPerKeepaliveUs)}, heap per node ${slope((r) => r.heapPerNodeB)}, new-room p50 ${slope((r) => r.newRoom.p50)}, cached-room p50 ${slope((r) => r.cachedRoom.p50)}.`
    : "",
  "",
].join("\n");
const out = values.out ?? join(here, "results", `discovery-scale-${date}.md`);
writeFileSync(out, md);
console.log(md);
log(`written to ${out}`);
