/**
 * `npm run bench`: the benchmarks, measured side by side on loopback, then a report.
 *
 * Starts nats-server and one process for each part: the responder (registry, demo node over
 * nats-grpc, raw NATS echo; TCP), the gateway, connect-node direct (baseline b), the naive Hono
 * forwarder (baseline c), and the load drivers (autocannon for HTTP, a `ws` grpc-websockets driver, a
 * raw NATS driver). Reads each process's CPU time from /proc around every measured window. Writes
 * `bench/results/<date>.md` and `.svg`, and stops everything.
 *
 *   npm run bench                  full run (~6-8 min on 2 cores)
 *   npm run bench -- --quick       ~2 min: fewer in-flight levels, shorter windows
 *   npm run bench -- --only=ws     only scenarios whose group matches (unary|grpc-web|stream|ws|jwt|idle|startup|profile)
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
import { cpuMicrosOf, rssOf, startProc, type Proc } from "./lib/proc.js";
import { writeReport, type BenchRun, type IdleResult, type ReportInput, type StartupResult } from "./lib/report.js";
import { summarizeProfile, type ProfileSummary } from "./profile-summary.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = dirname(here);
const args = new Set(process.argv.slice(2).filter((a) => !a.includes("=")));
const kv = Object.fromEntries(process.argv.slice(2).filter((a) => a.includes("=")).map((a) => a.replace(/^--/, "").split("=") as [string, string]));
const quick = args.has("--quick");
const only = kv["only"] ? new RegExp(kv["only"]) : undefined;
const want = (group: string) => !only || only.test(group);
const warmupMs = Number(kv["warmup-ms"] ?? (quick ? 500 : 600));
const durationMs = Number(kv["duration-ms"] ?? (quick ? 1500 : 3000));
const inflights = quick ? [1, 64] : [1, 16, 64, 256];
/** Interleaved passes per Connect unary cell (merged in the report). */
const rounds = Number(kv["rounds"] ?? (quick ? 1 : 2));
const sizes = [64, 16 * 1024];

/** V8 flags of the server processes (gateway, forwarder, connect-node) — the same for all three. */
const serverFlags = ["--no-memory-reducer"];
const gatewayFlags = [...serverFlags, "--expose-gc"];
const driverFlags = ["--no-memory-reducer"];

const log = (s: string) => process.stderr.write(s + "\n");

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
  let profile: { file: string; summary: ProfileSummary; rate: number } | undefined;
  // --prof-procs=responder,forwarder,…: those processes run under --cpu-prof for the whole run.
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

  try {
    nats = await startNatsServer();
    const natsProc: Watched = { name: "nats-server", pid: nats.process.pid! };
    const responder = await start("responder", files["responder"]!, [`--nats=${nats.url}`], serverFlags);
    const gw = await start("gateway", files["gateway"]!, [`--nats=${nats.wsUrl}`], gatewayFlags);
    const direct = await start("connect-direct", files["connect-direct"]!, [], serverFlags);
    const fwd = await start("forwarder", files["forwarder"]!, [`--nats=${nats.wsUrl}`], serverFlags);
    const http = await start("load-http", files["load-http"]!, [], driverFlags);
    const natsLoad = await start("load-nats", files["load-nats"]!, [`--nats=${nats.wsUrl}`], driverFlags);
    const wsLoad = await start("load-ws", files["load-ws"]!, [], driverFlags);
    const gwUrl = gw.info["url"] as string;
    const gwWs = gwUrl.replace(/^http/, "ws");
    const directUrl = direct.info["url"] as string;
    const fwdUrl = fwd.info["url"] as string;
    log(`bench: gateway ${gwUrl}, connect-node ${directUrl}, forwarder ${fwdUrl}, nats ${nats.url} / ${nats.wsUrl}`);

    const servers: Record<string, Proc> = { gateway: gw, direct, forwarder: fwd };
    // --compare=<bundle.mjs>: a second gateway from a saved bundle (e.g. before a change), run as
    // target "gateway-b" next to "gateway" in the unary scenarios.
    const compare = kv["compare"];
    if (compare) {
      servers["gateway-b"] = await start("gateway-b", compare, [`--nats=${nats.wsUrl}`], gatewayFlags);
      log(`bench: gateway-b from ${compare} at ${servers["gateway-b"].info["url"]}`);
    }
    const unaryTargets = ["forwarder", "direct", "gateway", ...(compare ? ["gateway-b"] : [])];

    /** Runs one measured command on `driver`, reading the CPU time of `watched` around the window. */
    const measure = async (driver: Proc, cmd: string, a: unknown, watched: Watched[]): Promise<{ res: LoadResult; cpuUs: Record<string, number> }> => {
      const all = [...watched, natsProc, { name: "responder", pid: responder.pid }];
      let before: number[] | undefined;
      let after: number[] | undefined;
      driver.onEvent = (ev) => {
        if (ev === "measure-start") before = all.map((w) => cpuMicrosOf(w.pid));
        else if (ev === "measure-end") after = all.map((w) => cpuMicrosOf(w.pid));
      };
      const res = await driver.call<LoadResult>(cmd, a, 120_000);
      driver.onEvent = undefined;
      // NaN travels as null over IPC
      for (const k of Object.keys(res.lat) as (keyof LoadResult["lat"])[]) res.lat[k] = res.lat[k] ?? NaN;
      const cpuUs: Record<string, number> = {};
      if (before && after) all.forEach((w, i) => (cpuUs[w.name] = after![i]! - before![i]!));
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
        `  ${r.label.padEnd(44)} ${run.opsPerSec.toFixed(0).padStart(8)} ${r.unit}  p50 ${fx(l.p50)} p99 ${fx(l.p99)} ms` +
          `  cpu µs/op ${Object.entries(cpuPerOp).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", ")}${r.result.errors ? `  ERRORS ${r.result.errors}` : ""}`,
      );
    };

    // --- sanity: every target answers the same call correctly
    const probe = echoRequest(64);
    for (const [name, url] of [["gateway", gwUrl], ["connect-node", directUrl], ["forwarder", fwdUrl]] as const) {
      const r = await fetch(`${url}/demo.v1.EchoService/Echo`, { method: "POST", headers: { "content-type": "application/proto", "connect-protocol-version": "1" }, body: probe as Uint8Array<ArrayBuffer> });
      const body = new Uint8Array(await r.arrayBuffer());
      const msg = fromBinary(EchoResponseSchema, body).message;
      if (r.status !== 200 || msg !== "x".repeat(62)) throw new Error(`sanity: ${name} answered ${r.status} ${JSON.stringify(msg).slice(0, 80)}`);
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

    // --- global warm-up: JIT every server on the unary path
    log("bench: warm-up");
    for (const url of Object.values(servers).map((p) => p.info["url"] as string)) {
      await http.call("run", { ...httpRun(url, probe, 16), warmupMs: 200, durationMs: quick ? 800 : 2000 });
    }
    await natsLoad.call("run", { subject: "bench.echo", payload: b64(probe), concurrency: 16, warmupMs: 200, durationMs: quick ? 500 : 1000 });

    // --- 1. Connect unary: floor, forwarder, connect-node, gateway at each size × in flight
    if (want("unary")) {
      log("bench: Connect unary");
      for (const size of sizes) {
        const body = echoRequest(size);
        for (const n of inflights) {
          const base = { group: "unary" as const, size, inflight: n, unit: "req/s" as const };
          // `rounds` interleaved passes over the targets, merged (sums of ops and CPU, mean latencies):
          // drift from other load on the machine then hits every target alike.
          const acc = new Map<string, { res: LoadResult; cpuUs: Record<string, number> }[]>();
          for (let round = 0; round < rounds; round++) {
            const m = await measure(natsLoad, "run", { subject: "bench.echo", payload: b64(body), concurrency: n, warmupMs, durationMs }, []);
            acc.set("nats", [...(acc.get("nats") ?? []), m]);
            for (const target of unaryTargets) {
              const srv = servers[target]!;
              const r = await measure(http, "run", httpRun(srv.info["url"] as string, body, n), [{ name: "server", pid: srv.pid }]);
              acc.set(target, [...(acc.get(target) ?? []), r]);
            }
          }
          for (const [target, list] of acc) {
            const { res, cpuUs } = mergeRounds(list);
            const label = target === "nats" ? `raw NATS req/reply ${sizeLabel(size)} ×${n}` : `${targetLabel(target)} Connect ${sizeLabel(size)} ×${n}`;
            record({ ...base, target, label, result: res }, cpuUs);
          }
        }
      }
    }

    // --- 2. gRPC-Web unary (binary): gateway vs connect-node
    if (want("grpc-web")) {
      log("bench: gRPC-Web unary");
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
      log("bench: Connect server streaming");
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
      log("bench: grpc-websockets");
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
      const gwGo = await start("gateway-go", files["gateway"]!, [`--nats=${nats.wsUrl}`, "--go-nodes=on"], gatewayFlags);
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
      log("bench: JWT");
      const key = "bench-secret-0123456789abcdef0123456789abcdef";
      const gwAuth = await start("gateway-auth", files["gateway"]!, [`--nats=${nats.wsUrl}`, `--auth-key=${key}`], gatewayFlags);
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

    // --- 6. profile: --cpu-prof on a separate gateway during Connect unary 64 B / 64 in flight
    if (want("profile") && !args.has("--no-profile")) {
      log("bench: profile (gateway with --cpu-prof, Connect unary 64 B ×64)");
      const dir = join(here, "results");
      const name = `gateway-${stamp}${quick ? "-quick" : ""}.cpuprofile`;
      const gwProf = await start("gateway-prof", files["gateway"]!, [`--nats=${nats.wsUrl}`], [...gatewayFlags, "--cpu-prof", `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}`]);
      const url = gwProf.info["url"] as string;
      await http.call("run", { ...httpRun(url, probe, 64), warmupMs: 200, durationMs: quick ? 800 : 2000 });
      const { res } = await measure(http, "run", httpRun(url, probe, 64), [{ name: "server", pid: gwProf.pid }]);
      await stopProc(gwProf);
      profile = { file: join(dir, name), summary: summarizeProfile(join(dir, name), 25), rate: res.rate };
      log(`  profiled: ${res.rate.toFixed(0)} req/s under the profiler; ${profile.file}`);
    }

    // --- 7. idle grpc-websockets streams: gateway memory per stream
    if (want("idle")) {
      log("bench: idle streams");
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
      log("bench: start-up");
      const times: number[] = [];
      for (let i = 0; i < (quick ? 1 : 3); i++) {
        const port = await freePort();
        const t = performance.now();
        const p = start("gateway-startup", files["gateway"]!, [`--nats=${nats.wsUrl}`, `--port=${port}`], gatewayFlags);
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
    for (const p of [...procs].reverse()) await p.stop().catch(() => {});
    await nats?.stop();
  }

  const totalS = (performance.now() - t0) / 1000;
  const input: ReportInput = {
    date: date.toISOString(),
    stamp: quick ? `${stamp}-quick` : stamp,
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
    profile,
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

export function targetLabel(t: string): string {
  return t === "direct" ? "connect-node direct" : t === "forwarder" ? "naive forwarder" : t === "gateway-b" ? "gateway-b (--compare)" : t;
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : e}\n`);
  process.exit(1);
});
