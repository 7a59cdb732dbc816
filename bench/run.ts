/**
 * `npm run bench`: the benchmarks, measured side by side on loopback, then a report.
 *
 * Starts nats-server and one process for each part: the responder (registry, demo node over
 * nats-grpc, raw NATS echo; TCP), the gateway (NATS over TCP, and a second one over WebSocket),
 * connect-node direct, the naive forwarders (node:http over TCP and over WebSocket — the best naive
 * forwarder — and Hono on @hono/node-server), the Deno and Workers (workerd) entries, and the load
 * drivers (autocannon for HTTP, a `ws` grpc-websockets driver, raw NATS drivers over TCP and
 * WebSocket). Reads each process's CPU time from /proc around every measured window. Writes
 * `bench/results/<date>.md` and `.svg` (`<date>-quick`, `<date>-only-<group>` for partial runs), and
 * stops everything.
 *
 *   npm run bench                  full run (under 10 min on 2 cores)
 *   npm run bench -- --quick       ~3 min: fewer in-flight levels, shorter windows
 *   npm run bench -- --only=ws     only scenarios whose group matches
 *                                  (unary|hono|breakdown|large|runtimes|grpc-web|stream|ws|jwt|idle|startup|profile)
 *   npm run bench -- --no-profile  skip the --cpu-prof run
 *   npm run bench -- --compare=bench/.build/gateway-old.mjs   also run a saved gateway bundle (A/B)
 *   npm run bench -- --duration-ms=5000 --warmup-ms=1000 --rounds=2
 *   npm run bench -- --prof-procs=responder,forwarder   --cpu-prof those processes (bench/results/)
 */
import { build } from "esbuild";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { execFileSync } from "node:child_process";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { freePort, startNatsServer, type NatsServer } from "../src/cli/nats-server.js";
import { mintToken, parseAuthConfig } from "../src/auth/index.js";
import { EchoRequestSchema, EchoResponseSchema } from "../src/gen/demo/v1/echo_pb.js";
import type { LoadResult } from "./lib/latency.js";
import { sleep } from "./lib/latency.js";
import type { SegmentSummary } from "./lib/hops.js";
import { cpuMicrosByCommand, cpuMicrosOf, rssOf, startProc, type Proc } from "./lib/proc.js";
import { writeReport, type BenchRun, type Breakdown, type CopyCount, type IdleResult, type ReportInput, type RuntimeInfo, type StartupResult } from "./lib/report.js";
import { startRuntime, type RuntimeTarget } from "./lib/runtimes.js";
import { summarizeProfile, type ProfileSummary } from "./profile-summary.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = dirname(here);
const args = new Set(process.argv.slice(2).filter((a) => !a.includes("=")));
const kv = Object.fromEntries(process.argv.slice(2).filter((a) => a.includes("=")).map((a) => a.replace(/^--/, "").split("=") as [string, string]));
const quick = args.has("--quick");
const only = kv["only"] ? new RegExp(kv["only"]) : undefined;
const want = (group: string) => !only || only.test(group);
const warmupMs = Number(kv["warmup-ms"] ?? (quick ? 400 : 400));
const durationMs = Number(kv["duration-ms"] ?? (quick ? 1200 : 1600));
const inflights = quick ? [1, 64] : [1, 16, 64, 256];
/** Interleaved passes per Connect unary cell (merged in the report). */
const rounds = Number(kv["rounds"] ?? (quick ? 1 : 2));
const sizes = [64, 16 * 1024];
/** In-flight levels where every target runs (both NATS transports, the Hono forwarder); the others run the core four. */
const wideInflights = new Set([1, 64]);
/** The large message: 1 MiB (the bench's nats-server takes 2 MiB payloads for it). */
const largeSize = 1024 * 1024;

/** V8 flags of the server processes (gateway, forwarder, connect-node) — the same for all three. */
const serverFlags = ["--no-memory-reducer"];
const gatewayFlags = [...serverFlags, "--expose-gc"];
const driverFlags = ["--no-memory-reducer"];

const log = (s: string) => process.stderr.write(s + "\n");

/** Wall time per section (the `bench: <section>` log lines), for the report: what the 10-minute budget goes to. */
const sections: { name: string; start: number; ms: number }[] = [];
/** Starts timing a section (ends the previous one) and logs its name. */
function section(name: string): void {
  const now = performance.now();
  const last = sections[sections.length - 1];
  if (last) last.ms = now - last.start;
  sections.push({ name, start: now, ms: NaN });
  log(`bench: ${name}`);
}

/** EchoRequest bytes of exactly `size` bytes (message of 'x'), with `repeat`. */
function echoRequest(size: number, repeat = 0): Uint8Array {
  for (let n = size; n >= 0; n--) {
    const b = toBinary(EchoRequestSchema, create(EchoRequestSchema, { message: "x".repeat(n), repeat }));
    if (b.length === size) return b;
    if (b.length < size) break;
  }
  throw new Error(`cannot make an EchoRequest of ${size} bytes`);
}

function envelope(msg: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + msg.length);
  new DataView(out.buffer).setUint32(1, msg.length);
  out.set(msg, 5);
  return out;
}

const b64 = (u: Uint8Array) => Buffer.from(u).toString("base64");

async function bundle(): Promise<Record<string, string>> {
  const names = ["responder", "gateway", "connect-direct", "forwarder", "load-http", "load-nats", "load-ws"];
  const outdir = join(here, ".build");
  mkdirSync(outdir, { recursive: true });
  await build({
    entryPoints: Object.fromEntries(names.map((n) => [n, join(here, "procs", `${n}.ts`)])),
    outdir,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    outExtension: { ".js": ".mjs" },
    logLevel: "warning",
  });
  return Object.fromEntries(names.map((n) => [n, join(outdir, `${n}.mjs`)]));
}

interface Watched {
  name: string;
  pid: number;
  /** `pid` is a process group: sum the CPU of all its processes (wrangler → workerd). */
  group?: boolean;
}

/** CPU µs of a watched process; a group's by command too (`<name>/<command>`: which of wrangler's processes works). */
const cpuOf = (w: Watched): Record<string, number> => {
  if (!w.group) return { [w.name]: cpuMicrosOf(w.pid) };
  const by = cpuMicrosByCommand(w.pid);
  let total = 0;
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(by)) {
    out[`${w.name}/${k}`] = v;
    total += v;
  }
  out[w.name] = total;
  return out;
};

/**
 * The report's name: the date, then `-quick` and `-only-<group>` for partial runs, so that a partial
 * run never overwrites the day's full report (a `--only=runtimes` run did: `git checkout` saved it).
 */
function reportName(date: string): string {
  const parts = [date];
  if (quick) parts.push("quick");
  if (kv["only"]) parts.push(`only-${kv["only"].replace(/[^A-Za-z0-9]+/g, "_")}`);
  return parts.join("-");
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const date = new Date();
  const stamp = date.toISOString().slice(0, 10);
  const files = await bundle();
  log(`bench: process output goes to bench/.build/logs/`);
  log(`bench: bundles built in ${(performance.now() - t0).toFixed(0)} ms; mode ${quick ? "quick" : "full"}, ${warmupMs} ms warm-up + ${durationMs} ms measured per run`);

  const logDir = join(here, ".build", "logs");
  rmSync(logDir, { recursive: true, force: true });
  mkdirSync(logDir, { recursive: true });
  const procs: Proc[] = [];
  let nats: NatsServer | undefined;
  const runs: BenchRun[] = [];
  let idle: IdleResult[] = [];
  let startup: StartupResult | undefined;
  const profiles: { title: string; file: string; summary: ProfileSummary; rate: number }[] = [];
  const breakdowns: Breakdown[] = [];
  const copies: CopyCount[] = [];
  const runtimes: RuntimeInfo[] = [];
  // --prof-procs=responder,forwarder-hono,…: those processes run under --cpu-prof for the whole run.
  const profProcs = new Set((kv["prof-procs"] ?? "").split(",").filter(Boolean));
  const start = async (name: string, file: string, a: string[], flags: string[]) => {
    if (profProcs.has(name)) flags = [...flags, "--cpu-prof", `--cpu-prof-dir=${join(here, "results")}`, `--cpu-prof-name=${name}-${stamp}.cpuprofile`];
    const p = await startProc(name, file, a, flags, join(logDir, `${name}.log`));
    procs.push(p);
    return p;
  };
  const stopProc = async (p: Proc) => {
    await p.stop();
    procs.splice(procs.indexOf(p), 1);
  };
  const others: RuntimeTarget[] = [];
  let startingRuntimes: Promise<PromiseSettledResult<RuntimeTarget>[]> = Promise.resolve([]);

  try {
    section("start processes");
    // 2 MiB payloads: a 1 MiB message plus its envelopes (the default 1 MiB would refuse it).
    nats = await startNatsServer({ maxPayload: 2 * 1024 * 1024 });
    const natsProc: Watched = { name: "nats-server", pid: nats.process.pid! };
    // Deno and wrangler/workerd take seconds to start: begin now, beside the Node processes.
    const wantRuntimes = want("runtimes") && !args.has("--no-runtimes");
    const probeUrl = async (url: string) => {
      const r = await fetch(`${url}/demo.v1.EchoService/Echo`, { method: "POST", headers: { "content-type": "application/proto", "connect-protocol-version": "1" }, body: echoRequest(64) as Uint8Array<ArrayBuffer>, signal: AbortSignal.timeout(10_000) });
      const body = new Uint8Array(await r.arrayBuffer());
      return r.status === 200 && fromBinary(EchoResponseSchema, body).message === "x".repeat(62);
    };
    if (wantRuntimes) startingRuntimes = Promise.allSettled((["deno", "workerd"] as const).map((n) => startRuntime(n, nats!.wsUrl, probeUrl)));
    const responder = await start("responder", files["responder"]!, [`--nats=${nats.url}`], serverFlags);
    const gw = await start("gateway", files["gateway"]!, [`--nats=${nats.url}`], gatewayFlags);
    const gwWsProc = await start("gateway-ws", files["gateway"]!, [`--nats=${nats.wsUrl}`], gatewayFlags);
    const direct = await start("connect-direct", files["connect-direct"]!, [], serverFlags);
    const fwd = await start("forwarder", files["forwarder"]!, [`--nats=${nats.url}`, "--kind=plain"], serverFlags);
    const fwdWs = await start("forwarder-ws", files["forwarder"]!, [`--nats=${nats.wsUrl}`, "--kind=plain"], serverFlags);
    const fwdHono = await start("forwarder-hono", files["forwarder"]!, [`--nats=${nats.url}`, "--kind=hono"], serverFlags);
    const http = await start("load-http", files["load-http"]!, [], driverFlags);
    const natsLoad = await start("load-nats", files["load-nats"]!, [`--nats=${nats.url}`], driverFlags);
    const natsLoadWs = await start("load-nats-ws", files["load-nats"]!, [`--nats=${nats.wsUrl}`], driverFlags);
    const wsLoad = await start("load-ws", files["load-ws"]!, [], driverFlags);
    const gwUrl = gw.info["url"] as string;
    const gwWs = gwUrl.replace(/^http/, "ws");
    const directUrl = direct.info["url"] as string;
    const fwdUrl = fwd.info["url"] as string;
    log(`bench: gateway ${gwUrl} (NATS TCP), gateway-ws ${gwWsProc.info["url"]} (NATS WebSocket), connect-node ${directUrl}, forwarder ${fwdUrl}, nats ${nats.url} / ${nats.wsUrl}`);

    const servers: Record<string, Proc> = { gateway: gw, "gateway-ws": gwWsProc, direct, forwarder: fwd, "forwarder-ws": fwdWs, "forwarder-hono": fwdHono };
    // --compare=<bundle.mjs>: a second gateway from a saved bundle (e.g. before a change), run as
    // target "gateway-b" next to "gateway" (both NATS over TCP) in the unary scenarios.
    const compare = kv["compare"];
    if (compare) {
      servers["gateway-b"] = await start("gateway-b", compare, [`--nats=${nats.url}`], gatewayFlags);
      log(`bench: gateway-b from ${compare} at ${servers["gateway-b"].info["url"]}`);
    }
    const floors: Record<string, Proc> = { nats: natsLoad, "nats-ws": natsLoadWs };
    /** The Connect unary targets of one cell: the core four everywhere, the rest where {@link wideInflights} says. */
    const unaryTargets = (n: number) => [
      "nats",
      ...(wideInflights.has(n) ? ["nats-ws"] : []),
      "forwarder",
      ...(wideInflights.has(n) ? ["forwarder-ws", "forwarder-hono"] : []),
      "direct",
      "gateway",
      ...(wideInflights.has(n) ? ["gateway-ws"] : []),
      ...(compare ? ["gateway-b"] : []),
    ];

    /** Runs one measured command on `driver`, reading the CPU time of `watched` around the window. */
    const measure = async (driver: Proc, cmd: string, a: unknown, watched: Watched[]): Promise<{ res: LoadResult; cpuUs: Record<string, number> }> => {
      const all = [...watched, natsProc, { name: "responder", pid: responder.pid }];
      let before: Record<string, number> | undefined;
      let after: Record<string, number> | undefined;
      const read = () => Object.assign({}, ...all.map(cpuOf)) as Record<string, number>;
      driver.onEvent = (ev) => {
        if (ev === "measure-start") before = read();
        else if (ev === "measure-end") after = read();
      };
      const res = await driver.call<LoadResult>(cmd, a, 180_000);
      driver.onEvent = undefined;
      // NaN travels as null over IPC
      for (const k of Object.keys(res.lat) as (keyof LoadResult["lat"])[]) res.lat[k] = res.lat[k] ?? NaN;
      const cpuUs: Record<string, number> = {};
      if (before && after) for (const [k, v] of Object.entries(after)) cpuUs[k] = v - (before[k] ?? 0);
      cpuUs["driver"] = res.cpuUs;
      return { res, cpuUs };
    };

    const record = (r: Omit<BenchRun, "cpuPerOp" | "opsPerSec">, cpuUs: Record<string, number>, opsPerResult = 1) => {
      const ops = r.result.count * opsPerResult;
      const cpuPerOp: Record<string, number> = {};
      for (const [k, v] of Object.entries(cpuUs)) cpuPerOp[k] = ops > 0 ? v / ops : NaN;
      const run: BenchRun = { ...r, opsPerSec: (ops * 1000) / r.result.durationMs, cpuPerOp };
      runs.push(run);
      const l = r.result.lat;
      log(
        `  ${r.label.padEnd(52)} ${run.opsPerSec.toFixed(0).padStart(8)} ${r.unit}  p50 ${fx(l.p50)} p99 ${fx(l.p99)} ms` +
          `  cpu µs/op ${Object.entries(cpuPerOp).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", ")}${r.result.errors ? `  ERRORS ${r.result.errors}` : ""}`,
      );
      return run;
    };

    // --- sanity: every target answers the same call correctly
    const probe = echoRequest(64);
    for (const [name, p] of Object.entries(servers)) {
      if (!(await probeUrl(p.info["url"] as string))) throw new Error(`sanity: ${name} did not echo the probe`);
    }
    {
      const r = await fetch(`${gwUrl}/demo.v1.EchoService/Echo`, { method: "POST", headers: { "content-type": "application/grpc-web+proto", "x-grpc-web": "1" }, body: envelope(probe) as Uint8Array<ArrayBuffer> });
      const text = Buffer.from(await r.arrayBuffer()).toString("latin1");
      if (!/grpc-status:\s*0/.test(text)) throw new Error(`sanity: gateway gRPC-Web answered ${r.status} ${text.slice(-100)}`);
    }

    const connectHeaders = { "content-type": "application/proto", "connect-protocol-version": "1" };
    const httpRun = (url: string, body: Uint8Array, connections: number, headers: Record<string, string> = connectHeaders, path = "/demo.v1.EchoService/Echo") => ({
      url: url + path,
      headers,
      body: b64(body),
      connections,
      warmupMs,
      durationMs,
    });
    /** One measured Connect unary run of `target` (a server, or a raw NATS floor) at `size` × `n`. */
    const unaryRun = (target: string, body: Uint8Array, n: number, extra: Watched[] = []) => {
      const floor = floors[target];
      if (floor) return measure(floor, "run", { subject: "bench.echo", payload: b64(body), concurrency: n, warmupMs, durationMs }, extra);
      const srv = servers[target]!;
      return measure(http, "run", httpRun(srv.info["url"] as string, body, n), [{ name: "server", pid: srv.pid }, ...extra]);
    };
    const unaryLabel = (target: string, size: number, n: number) => `${targetLabel(target)}${target.startsWith("nats") ? "" : " Connect"} ${sizeLabel(size)} ×${n}`;

    // --- global warm-up: JIT every server on the unary path
    section("warm-up");
    for (const url of Object.values(servers).map((p) => p.info["url"] as string)) {
      await http.call("run", { ...httpRun(url, probe, 16), warmupMs: 200, durationMs: quick ? 600 : 1200 });
    }
    for (const f of Object.values(floors)) await f.call("run", { subject: "bench.echo", payload: b64(probe), concurrency: 16, warmupMs: 200, durationMs: quick ? 400 : 800 });

    // --- 1. Connect unary: floors, forwarders, connect-node, gateways at each size × in flight
    if (want("unary")) {
      section("Connect unary");
      for (const size of sizes) {
        const body = echoRequest(size);
        for (const n of inflights) {
          const base = { group: "unary" as const, size, inflight: n, unit: "req/s" as const };
          // `rounds` interleaved passes over the targets, merged (sums of ops and CPU, mean latencies):
          // drift from other load on the machine then hits every target alike.
          const acc = new Map<string, { res: LoadResult; cpuUs: Record<string, number> }[]>();
          for (let round = 0; round < rounds; round++) {
            for (const target of unaryTargets(n)) acc.set(target, [...(acc.get(target) ?? []), await unaryRun(target, body, n)]);
          }
          for (const [target, list] of acc) {
            const { res, cpuUs } = mergeRounds(list);
            record({ ...base, target, label: unaryLabel(target, size, n), result: res }, cpuUs);
          }
        }
      }
    }

    // --- 1b. What @hono/node-server costs: the same Hono forwarder with the body read through the
    // fetch Request (c.req.arrayBuffer()) and from Node's IncomingMessage, beside node:http.
    if (want("hono")) {
      section("Hono forwarder, with and without the fetch Request");
      const honoNode = await start("forwarder-hono-node", files["forwarder"]!, [`--nats=${nats.url}`, "--kind=hono-node"], serverFlags);
      servers["forwarder-hono-node"] = honoNode;
      await http.call("run", { ...httpRun(honoNode.info["url"] as string, probe, 16), warmupMs: 200, durationMs: quick ? 600 : 1200 });
      const n = 64;
      const acc = new Map<string, { res: LoadResult; cpuUs: Record<string, number> }[]>();
      for (let round = 0; round < rounds; round++) {
        for (const target of ["forwarder", "forwarder-hono", "forwarder-hono-node"]) acc.set(target, [...(acc.get(target) ?? []), await unaryRun(target, probe, n)]);
      }
      for (const [target, list] of acc) {
        const { res, cpuUs } = mergeRounds(list);
        record({ group: "hono", size: 64, inflight: n, unit: "req/s", target, label: unaryLabel(target, 64, n), result: res }, cpuUs);
      }
      delete servers["forwarder-hono-node"];
      await stopProc(honoNode);
    }

    // --- 1c. Where one call's time goes: hop timestamps at 1 in flight, gateway (NATS over TCP) and
    // demo node, beside the TCP floor in the same minute.
    if (want("breakdown")) {
      section("latency breakdown at 1 in flight");
      const echo = await start("http-echo", files["forwarder"]!, [`--nats=${nats.url}`, "--kind=echo"], serverFlags);
      servers["http-echo"] = echo;
      await http.call("run", { ...httpRun(echo.info["url"] as string, probe, 1), warmupMs: 200, durationMs: quick ? 400 : 800 });
      for (const size of sizes) {
        const body = echoRequest(size);
        const floor = await unaryRun("nats", body, 1);
        const floorRun = record({ group: "breakdown", size, inflight: 1, unit: "req/s", target: "nats", label: `${unaryLabel("nats", size, 1)} (breakdown)`, result: floor.res }, floor.cpuUs);
        const he = await unaryRun("http-echo", body, 1);
        const echoRun = record({ group: "breakdown", size, inflight: 1, unit: "req/s", target: "http-echo", label: `${unaryLabel("http-echo", size, 1)} (breakdown)`, result: he.res }, he.cpuUs);
        await gw.call("hopsOn");
        await responder.call("hopsOn");
        const m = await unaryRun("gateway", body, 1);
        const gatewayHops = await gw.call<SegmentSummary[]>("hopsGet");
        const nodeHops = await responder.call<SegmentSummary[]>("hopsGet");
        const gateway = gatewayHops.filter((s) => !s.whole);
        const node = nodeHops.filter((s) => !s.whole);
        const gwRun = record({ group: "breakdown", size, inflight: 1, unit: "req/s", target: "gateway", label: `${unaryLabel("gateway", size, 1)} (hops recorded)`, result: m.res }, m.cpuUs);
        breakdowns.push({
          size,
          gatewayP50: gwRun.result.lat.p50,
          gatewayP99: gwRun.result.lat.p99,
          floorP50: floorRun.result.lat.p50,
          floorP99: floorRun.result.lat.p99,
          httpEchoP50: echoRun.result.lat.p50,
          httpEchoP99: echoRun.result.lat.p99,
          gateway,
          node,
          gatewayWhole: gatewayHops.find((s) => s.whole),
          nodeWhole: nodeHops.find((s) => s.whole),
        });
        log(`  ${sizeLabel(size)}: ${[...gateway, ...node].map((x) => `${x.from}→${x.to} ${x.p50Us.toFixed(0)} µs (${x.count})`).join(", ")}`);
      }
      delete servers["http-echo"];
      await stopProc(echo);
    }

    // --- 1d. Large messages: 1 MiB Connect unary, and the bytes the gateway copies per call
    if (want("large")) {
      section("large messages (1 MiB)");
      const body = echoRequest(largeSize);
      for (const n of quick ? [1] : [1, 16]) {
        const acc = new Map<string, { res: LoadResult; cpuUs: Record<string, number> }[]>();
        for (const target of ["nats", "forwarder", "direct", "gateway", "gateway-ws"]) acc.set(target, [await unaryRun(target, body, n)]);
        for (const [target, list] of acc) {
          const { res, cpuUs } = mergeRounds(list);
          record({ group: "large", size: largeSize, inflight: n, unit: "req/s", target, label: unaryLabel(target, largeSize, n), result: res }, cpuUs);
        }
      }
      for (const size of [64, 16 * 1024, largeSize]) {
        for (const target of ["gateway", "gateway-ws"]) {
          const srv = servers[target]!;
          await srv.call("copiesOn");
          const { res } = await measure(http, "run", { ...httpRun(srv.info["url"] as string, echoRequest(size), 1), warmupMs: 100, durationMs: quick ? 400 : 800 }, []);
          const c = await srv.call<{ calls: number; sites: Record<string, number> }>("copiesGet");
          copies.push({ size, target, calls: c.calls, answered: res.count, sites: c.sites });
          const per = Object.entries(c.sites).map(([k, v]) => `${k} ${(v / Math.max(1, c.calls)).toFixed(0)}`);
          log(`  copies ${targetLabel(target)} ${sizeLabel(size)}: ${c.calls} calls; bytes/call ${per.join(", ")}`);
        }
      }
    }

    // --- 1e. Every runtime: Connect unary and grpc-websockets against the Deno and workerd entries,
    // beside the Node gateway on the same NATS transport (WebSocket), interleaved.
    if (wantRuntimes) {
      section("runtimes (Node, Deno, workerd)");
      const settled = await startingRuntimes;
      const ready: { target: string; url: string; watched: Watched }[] = [{ target: "gateway-ws", url: gwWsProc.info["url"] as string, watched: { name: "server", pid: gwWsProc.pid } }];
      for (const [i, s] of settled.entries()) {
        const name = (["deno", "workerd"] as const)[i]!;
        if (s.status === "fulfilled") {
          others.push(s.value);
          ready.push({ target: name, url: s.value.url, watched: { name: "server", pid: s.value.pgid, group: true } });
          runtimes.push({ name, readyMs: s.value.readyMs });
          log(`  ${name} ready at ${s.value.url} in ${(s.value.readyMs / 1000).toFixed(1)} s`);
        } else {
          runtimes.push({ name, readyMs: NaN, error: String((s.reason as Error)?.message ?? s.reason).slice(0, 500) });
          log(`  ${name} did not start: ${String((s.reason as Error)?.message ?? s.reason).slice(0, 300)}`);
        }
      }
      for (const r of ready.slice(1)) await http.call("run", { ...httpRun(r.url, probe, 16), warmupMs: 200, durationMs: quick ? 600 : 1200 });
      const payload = b64(probe);
      for (const n of [1, 64]) {
        for (const r of ready) {
          const { res, cpuUs } = await measure(http, "run", httpRun(r.url, probe, n), [r.watched]);
          record({ group: "runtimes", size: 64, inflight: n, unit: "req/s", target: r.target, label: `${runtimeLabel(r.target)} Connect 64 B ×${n}`, result: res }, cpuUs);
        }
      }
      for (const [streams, window] of [[1, 1], [64, 16]] as const) {
        for (const r of ready) {
          const { res, cpuUs } = await measure(wsLoad, "bidi", { url: r.url.replace(/^http/, "ws"), streams, payload, window, warmupMs, durationMs }, [r.watched]);
          const label = window === 1 ? `grpc-websockets ping-pong, ${streams} stream` : `grpc-websockets bidi ${window} in flight/stream, ${streams} streams`;
          record({ group: "runtimes", size: 64, inflight: streams * window, unit: "msg/s", target: r.target, label: `${runtimeLabel(r.target)} ${label}`, result: res, note: "msg/s each way" }, cpuUs);
        }
      }
      for (const o of others.splice(0)) await o.process.stop();
    }

    // --- 2. gRPC-Web unary (binary): gateway vs connect-node
    if (want("grpc-web")) {
      section("gRPC-Web unary");
      const grpcWebHeaders = { "content-type": "application/grpc-web+proto", "x-grpc-web": "1" };
      for (const n of [1, 64]) {
        for (const target of ["direct", "gateway"] as const) {
          const srv = servers[target]!;
          const { res, cpuUs } = await measure(http, "run", httpRun(srv.info["url"] as string, envelope(probe), n, grpcWebHeaders), [{ name: "server", pid: srv.pid }]);
          record({ group: "grpc-web", size: 64, inflight: n, unit: "req/s", target, label: `${targetLabel(target)} gRPC-Web 64 B ×${n}`, result: res }, cpuUs);
        }
      }
    }

    // --- 3. Connect server streaming: EchoStream repeat N
    if (want("stream")) {
      section("Connect server streaming");
      const repeat = 1000;
      const body = envelope(echoRequest(64, repeat));
      const headers = { "content-type": "application/connect+proto", "connect-protocol-version": "1" };
      const n = 8;
      for (const target of ["direct", "gateway"] as const) {
        const srv = servers[target]!;
        const { res, cpuUs } = await measure(http, "run", httpRun(srv.info["url"] as string, body, n, headers, "/demo.v1.EchoService/EchoStream"), [{ name: "server", pid: srv.pid }]);
        record({ group: "stream", size: 64, inflight: n, unit: "msg/s", target, label: `${targetLabel(target)} EchoStream ×${repeat} (${n} streams)`, result: res, note: `latency = whole stream of ${repeat}` }, cpuUs, repeat);
      }
    }

    // --- 4. grpc-websockets: bidi ping-pong, bidi pipelined (each way), server → client one way
    if (want("ws")) {
      section("grpc-websockets");
      const payload = b64(echoRequest(64));
      const gwW: Watched[] = [{ name: "server", pid: gw.pid }];
      for (const streams of [1, 64]) {
        const { res, cpuUs } = await measure(wsLoad, "bidi", { url: gwWs, streams, payload, window: 1, warmupMs, durationMs }, gwW);
        record({ group: "ws", size: 64, inflight: streams, unit: "msg/s", target: "gateway", label: `grpc-websockets bidi ping-pong, ${streams} stream${streams > 1 ? "s" : ""}`, result: res, note: "msg/s each way; latency = round trip" }, cpuUs);
      }
      for (const streams of quick ? [64] : [1, 64]) {
        const { res, cpuUs } = await measure(wsLoad, "bidi", { url: gwWs, streams, payload, window: 16, warmupMs, durationMs }, gwW);
        record({ group: "ws", size: 64, inflight: streams * 16, unit: "msg/s", target: "gateway", label: `grpc-websockets bidi 16 in flight/stream, ${streams} stream${streams > 1 ? "s" : ""}`, result: res, note: "msg/s each way" }, cpuUs);
      }
      // The same pipelined bidi through the Go-compatible sender (forced on for the demo node): each
      // stream's request frames leave go_frame_gap_ms apart, so one stream carries at most 1000/gap msg/s.
      const gwGo = await start("gateway-go", files["gateway"]!, [`--nats=${nats.url}`, "--go-nodes=on"], gatewayFlags);
      const gwGoWs = (gwGo.info["url"] as string).replace(/^http/, "ws");
      for (const streams of quick ? [64] : [1, 64]) {
        const { res, cpuUs } = await measure(wsLoad, "bidi", { url: gwGoWs, streams, payload, window: 16, warmupMs, durationMs }, [{ name: "server", pid: gwGo.pid }]);
        record({ group: "ws", size: 64, inflight: streams * 16, unit: "msg/s", target: "gateway", label: `grpc-websockets bidi 16 in flight/stream, ${streams} stream${streams > 1 ? "s" : ""}, paced (Go-node sender)`, result: res, note: "msg/s each way; request frames 2 ms apart per stream" }, cpuUs);
      }
      await stopProc(gwGo);
      for (const streams of quick ? [64] : [1, 64]) {
        const { res, cpuUs } = await measure(wsLoad, "down", { url: gwWs, streams, payload: b64(echoRequest(64, 10_000)), warmupMs, durationMs }, gwW);
        record({ group: "ws", size: 64, inflight: streams, unit: "msg/s", target: "gateway", label: `grpc-websockets one way (EchoStream), ${streams} stream${streams > 1 ? "s" : ""}`, result: res, note: "server → client msg/s" }, cpuUs);
      }
    }

    // --- 5. JWT-protected unary (cached HS256 token) vs unauthenticated, interleaved
    if (want("jwt")) {
      section("JWT");
      const key = "bench-secret-0123456789abcdef0123456789abcdef";
      const gwAuth = await start("gateway-auth", files["gateway"]!, [`--nats=${nats.url}`, `--auth-key=${key}`], gatewayFlags);
      const token = await mintToken(parseAuthConfig({ enabled: true, key_type: "HMAC", key }), { uid: "bench", sid: "bench", services: ["demo"] });
      const authUrl = gwAuth.info["url"] as string;
      const authHeaders = { ...connectHeaders, authorization: `Bearer ${token}` };
      const check = await fetch(`${authUrl}/demo.v1.EchoService/Echo`, { method: "POST", headers: authHeaders, body: probe as Uint8Array<ArrayBuffer> });
      await check.arrayBuffer();
      if (check.status !== 200) throw new Error(`sanity: JWT gateway answered ${check.status}`);
      const noAuth = await fetch(`${authUrl}/demo.v1.EchoService/Echo`, { method: "POST", headers: connectHeaders, body: probe as Uint8Array<ArrayBuffer> });
      await noAuth.arrayBuffer();
      if (noAuth.status !== 401) throw new Error(`sanity: JWT gateway let a call without a token through (${noAuth.status})`);
      await http.call("run", { ...httpRun(authUrl, probe, 16, authHeaders), warmupMs: 200, durationMs: quick ? 800 : 2000 });
      const n = 64;
      for (let round = 1; round <= (quick ? 1 : 2); round++) {
        for (const [target, url, headers, pid] of [
          ["gateway", gwUrl, connectHeaders, gw.pid],
          ["gateway-jwt", authUrl, authHeaders, gwAuth.pid],
        ] as const) {
          const { res, cpuUs } = await measure(http, "run", httpRun(url, probe, n, headers), [{ name: "server", pid }]);
          record({ group: "jwt", size: 64, inflight: n, unit: "req/s", target, label: `${target === "gateway" ? "gateway, no auth" : "gateway, cached JWT (HS256)"} 64 B ×${n} #${round}`, result: res }, cpuUs);
        }
      }
      await stopProc(gwAuth);
    }

    // --- 6. profiles: --cpu-prof on separate processes, one per scenario: the gateway (NATS over TCP)
    // at 64 B ×64 (the forwarder ratio), 16 KiB ×16 (the connect-node ratio) and 1 MiB ×1 (copies), and
    // the Hono forwarder at 64 B ×64 (what @hono/node-server costs).
    if (want("profile") && !args.has("--no-profile")) {
      const dir = join(here, "results");
      const scenarios: { title: string; proc: string; file: string; args: string[]; size: number; n: number }[] = [
        { title: "gateway, Connect unary 64 B × 64 in flight", proc: "gateway", file: files["gateway"]!, args: [`--nats=${nats.url}`], size: 64, n: 64 },
        { title: "gateway, Connect unary 16 KiB × 16 in flight", proc: "gateway", file: files["gateway"]!, args: [`--nats=${nats.url}`], size: 16 * 1024, n: 16 },
        { title: "gateway, Connect unary 1 MiB × 1 in flight", proc: "gateway", file: files["gateway"]!, args: [`--nats=${nats.url}`], size: largeSize, n: 1 },
        { title: "Hono forwarder (@hono/node-server), 64 B × 64 in flight", proc: "forwarder-hono", file: files["forwarder"]!, args: [`--nats=${nats.url}`, "--kind=hono"], size: 64, n: 64 },
      ];
      for (const [i, sc] of scenarios.entries()) {
        section(`profile (${sc.title})`);
        const name = `${sc.proc}-${stamp}${quick ? "-quick" : ""}-${i + 1}.cpuprofile`;
        const p = await start(`${sc.proc}-prof`, sc.file, sc.args, [...(sc.proc === "gateway" ? gatewayFlags : serverFlags), "--cpu-prof", `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}`]);
        const url = p.info["url"] as string;
        const body = echoRequest(sc.size);
        await http.call("run", { ...httpRun(url, body, sc.n), warmupMs: 200, durationMs: quick ? 500 : 1000 });
        const { res } = await measure(http, "run", httpRun(url, body, sc.n), [{ name: "server", pid: p.pid }]);
        await stopProc(p);
        profiles.push({ title: sc.title, file: join(dir, name), summary: summarizeProfile(join(dir, name), 15), rate: res.rate });
        log(`  profiled: ${res.rate.toFixed(0)} req/s under the profiler; ${join(dir, name)}`);
      }
    }

    // --- 7. idle grpc-websockets streams: gateway memory per stream
    if (want("idle")) {
      section("idle streams");
      const before = await gw.call<{ rss: number; heapUsed: number }>("gc");
      const responderBefore = rssOf(responder.pid);
      let opened = 0;
      idle = [];
      for (const target of [1000, 10_000]) {
        const o = await wsLoad.call<{ opened: number; failed: number; ms: number }>("idleOpen", { url: gwWs, n: target - opened }, 180_000);
        opened = o.opened; // total open now
        const deadline = Date.now() + 60_000;
        let st = await gw.call<{ inFlight: number }>("stats");
        while (st.inFlight < opened && Date.now() < deadline) {
          await sleep(100);
          st = await gw.call<{ inFlight: number }>("stats");
        }
        await sleep(500);
        const after = await gw.call<{ rss: number; heapUsed: number; inFlight: number }>("gc");
        idle.push({
          streams: opened,
          inFlight: after.inFlight ?? st.inFlight,
          failed: o.failed,
          openMs: o.ms,
          rssPerStream: (after.rss - before.rss) / opened,
          heapPerStream: (after.heapUsed - before.heapUsed) / opened,
          responderRssPerStream: (rssOf(responder.pid) - responderBefore) / opened,
        });
        log(`  ${opened} idle streams (${st.inFlight} calls in flight): gateway RSS +${((after.rss - before.rss) / opened / 1024).toFixed(1)} KiB/stream, heap +${((after.heapUsed - before.heapUsed) / opened / 1024).toFixed(1)} KiB/stream`);
      }
      await wsLoad.call("idleClose", {}, 60_000);
    }

    // --- 8. start-up: spawn to /readyz 200
    if (want("startup")) {
      section("start-up");
      const times: number[] = [];
      for (let i = 0; i < (quick ? 1 : 3); i++) {
        const port = await freePort();
        const t = performance.now();
        const p = start("gateway-startup", files["gateway"]!, [`--nats=${nats.url}`, `--port=${port}`], gatewayFlags);
        let readyMs = NaN;
        for (;;) {
          try {
            const r = await fetch(`http://127.0.0.1:${port}/readyz`);
            await r.arrayBuffer();
            if (r.status === 200) {
              readyMs = performance.now() - t;
              break;
            }
          } catch {
            // not listening yet
          }
          if (performance.now() - t > 30_000) break;
          await sleep(5);
        }
        times.push(readyMs);
        await stopProc(await p);
      }
      startup = { runsMs: times, medianMs: [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]! };
      log(`  spawn → /readyz 200: ${times.map((t) => t.toFixed(0)).join(", ")} ms`);
    }
  } finally {
    for (const s of await startingRuntimes) if (s.status === "fulfilled") await s.value.process.stop().catch(() => {});
    for (const p of [...procs].reverse()) await p.stop().catch(() => {});
    await nats?.stop();
  }

  section("stop");
  sections.pop();
  const totalS = (performance.now() - t0) / 1000;
  const input: ReportInput = {
    date: date.toISOString(),
    stamp: reportName(stamp),
    quick,
    warmupMs,
    durationMs,
    rounds,
    totalS,
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? "?",
      node: process.version,
      natsServer: (() => {
        try {
          return execFileSync("nats-server", ["--version"]).toString().trim();
        } catch {
          return "?";
        }
      })(),
      loadavg: readLoad(),
    },
    flags: { server: serverFlags, gateway: gatewayFlags, driver: driverFlags },
    runs,
    idle,
    startup,
    profiles,
    breakdowns,
    copies,
    runtimes,
    sections: sections.map((x) => ({ name: x.name, ms: x.ms })),
    command: `npm run bench${process.argv.slice(2).length ? " -- " + process.argv.slice(2).join(" ") : ""}`,
  };
  const out = writeReport(join(here, "results"), input);
  writeFileSync(join(here, "results", `${input.stamp}.json`), JSON.stringify(input, null, 2));
  log(`bench: done in ${totalS.toFixed(0)} s → ${out.md}, ${out.svg}`);
  void root;
}

/** Merges interleaved rounds of one target: summed ops, time and CPU; mean latency percentiles. */
function mergeRounds(list: { res: LoadResult; cpuUs: Record<string, number> }[]): { res: LoadResult; cpuUs: Record<string, number> } {
  if (list.length === 1) return list[0]!;
  const sum = (f: (r: LoadResult) => number) => list.reduce((s, x) => s + f(x.res), 0);
  const mean = (f: (r: LoadResult) => number) => sum(f) / list.length;
  const count = sum((r) => r.count);
  const durationMs = sum((r) => r.durationMs);
  const cpuUs: Record<string, number> = {};
  for (const x of list) for (const [k, v] of Object.entries(x.cpuUs)) cpuUs[k] = (cpuUs[k] ?? 0) + v;
  const res: LoadResult = {
    count,
    durationMs,
    rate: (count * 1000) / durationMs,
    lat: { p50: mean((r) => r.lat.p50), p90: mean((r) => r.lat.p90), p99: mean((r) => r.lat.p99), max: Math.max(...list.map((x) => x.res.lat.max)), mean: mean((r) => r.lat.mean) },
    errors: sum((r) => r.errors),
    cpuUs: sum((r) => r.cpuUs),
  };
  return { res, cpuUs };
}

function fx(n: number): string {
  return Number.isFinite(n) ? n.toFixed(3) : "–";
}

function readLoad(): string {
  try {
    return execFileSync("cat", ["/proc/loadavg"]).toString().trim();
  } catch {
    return "?";
  }
}

export function sizeLabel(size: number): string {
  return size >= 1024 ? `${size / 1024} KiB` : `${size} B`;
}

/** What each target is, as the report and the log name it. */
export const targetLabels: Record<string, string> = {
  nats: "raw NATS req/reply (TCP)",
  "nats-ws": "raw NATS req/reply (WebSocket)",
  forwarder: "naive forwarder node:http (NATS TCP)",
  "forwarder-ws": "naive forwarder node:http (NATS WebSocket)",
  "forwarder-hono": "naive forwarder Hono (NATS TCP)",
  "forwarder-hono-node": "Hono forwarder, body from IncomingMessage (NATS TCP)",
  "http-echo": "node:http echo, no NATS (HTTP floor)",
  direct: "connect-node direct",
  gateway: "gateway (NATS TCP)",
  "gateway-ws": "gateway (NATS WebSocket)",
  "gateway-b": "gateway-b (--compare, NATS TCP)",
};

export function targetLabel(t: string): string {
  return targetLabels[t] ?? t;
}

function runtimeLabel(t: string): string {
  return t === "gateway-ws" ? "Node (NATS WebSocket)" : t === "deno" ? "Deno" : t === "workerd" ? "workerd (wrangler dev)" : t;
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : e}\n`);
  process.exit(1);
});
