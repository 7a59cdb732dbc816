/**
 * The benchmark report: `bench/results/<stamp>.md` (tables, ratios, targets, profile summary) and
 * `<stamp>.svg` (bars of throughput and p50/p99 latency per scenario), both made here from the runs.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { LoadResult } from "./latency.js";
import type { ProfileSummary } from "../profile-summary.js";
import type { SegmentSummary } from "./hops.js";
import { evaluateGoals } from "./goals.js";
import { breakdownSection, honoSection, largeSection, profilesSection, runtimesSection } from "./report-sections.js";

export interface BenchRun {
  group: "unary" | "hono" | "breakdown" | "large" | "runtimes" | "grpc-web" | "stream" | "ws" | "jwt";
  target: string;
  label: string;
  size: number;
  inflight: number;
  unit: "req/s" | "msg/s";
  note?: string;
  result: LoadResult;
  /** Operations (requests or messages) per second. */
  opsPerSec: number;
  /** CPU µs per operation, by process: server (the HTTP server under test), nats-server, responder, driver. */
  cpuPerOp: Record<string, number>;
}

export interface IdleResult {
  streams: number;
  inFlight: number;
  failed: number;
  openMs: number;
  rssPerStream: number;
  heapPerStream: number;
  responderRssPerStream: number;
}

export interface StartupResult {
  runsMs: number[];
  medianMs: number;
}

/** The latency breakdown of one size at 1 in flight (gateway over NATS TCP, demo node). */
export interface Breakdown {
  size: number;
  /** Driver-side p50 of the gateway run with hops recorded, and of the TCP floor just before it (ms). */
  gatewayP50: number;
  floorP50: number;
  /** The same runs' p99 (ms): the tail that the slowest calls inside each process are compared with. */
  gatewayP99: number;
  floorP99: number;
  /** Driver-side p50 of a node:http server answering the body itself (the HTTP round trip alone), ms. */
  httpEchoP50: number;
  httpEchoP99: number;
  /** Segments between the gateway's hops (bench/lib/hops.ts gatewayHops), µs. */
  gateway: SegmentSummary[];
  /** Segments between the demo node's hops (nodeHops), µs. */
  node: SegmentSummary[];
  /** Each call's whole span inside the gateway (HTTP parsed → response written) and inside the node, µs. */
  gatewayWhole: SegmentSummary | undefined;
  nodeWhole: SegmentSummary | undefined;
}

/** Bytes copied in JS by one gateway per call, by site (bench/lib/copies.ts). */
export interface CopyCount {
  size: number;
  /** gateway (NATS TCP) or gateway-ws. */
  target: string;
  /** Requests the gateway took while counting. */
  calls: number;
  /** Requests the driver saw answered in its window. */
  answered: number;
  sites: Record<string, number>;
}

/** A runtime started for the runtimes section. */
export interface RuntimeInfo {
  name: string;
  /** Spawn to its first good answer, ms (NaN if it did not start). */
  readyMs: number;
  error?: string;
}

export interface ReportInput {
  date: string;
  stamp: string;
  quick: boolean;
  warmupMs: number;
  durationMs: number;
  /** Interleaved rounds per Connect unary cell. */
  rounds: number;
  totalS: number;
  machine: { cpus: number; cpuModel: string; node: string; natsServer: string; loadavg: string };
  flags: { server: string[]; gateway: string[]; driver: string[] };
  runs: BenchRun[];
  idle: IdleResult[];
  startup: StartupResult | undefined;
  profiles: { title: string; file: string; summary: ProfileSummary; rate: number }[];
  breakdowns: Breakdown[];
  copies: CopyCount[];
  runtimes: RuntimeInfo[];
  /** Wall time per section of the run (ms). */
  sections: { name: string; ms: number }[];
  command: string;
}

const f0 = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "–");
const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "–");
const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : "–");
const ms = (n: number) => (Number.isFinite(n) ? (n < 10 ? n.toFixed(3) : n.toFixed(1)) : "–");
const sizeLabel = (size: number) => (size >= 1024 * 1024 ? `${size / 1024 / 1024} MiB` : size >= 1024 ? `${size / 1024} KiB` : `${size} B`);
const ok = (b: boolean | undefined) => (b === undefined ? "–" : b ? "**yes**" : "no");

function find(runs: BenchRun[], group: string, target: string, size: number, inflight: number): BenchRun | undefined {
  return runs.find((r) => r.group === group && r.target === target && r.size === size && r.inflight === inflight);
}

/** The ratios the issue's targets are stated in, per Connect unary cell. */
export interface UnaryCell {
  size: number;
  inflight: number;
  /** Gateway, NATS over TCP. */
  gw?: BenchRun;
  /** Gateway, NATS over WebSocket. */
  gwWs?: BenchRun;
  /** The best naive forwarder: node:http, NATS over TCP (and over WebSocket). */
  fwd?: BenchRun;
  fwdWs?: BenchRun;
  /** The Hono forwarder (NATS over TCP). */
  fwdHono?: BenchRun;
  direct?: BenchRun;
  /** Raw NATS floors, TCP and WebSocket. */
  floor?: BenchRun;
  floorWs?: BenchRun;
  /** `--compare` gateway (a saved bundle), when run. */
  gwB?: BenchRun;
  /** gateway ÷ best naive forwarder, same NATS transport (TCP; WebSocket). */
  vsFwd: number;
  vsFwdWs: number;
  /** gateway ÷ the Hono forwarder (both NATS over TCP). */
  vsHono: number;
  /** gateway ÷ gateway-b */
  vsB: number;
  vsDirect: number;
  /** gateway p50 − floor p50, same transport (TCP; WebSocket). */
  addedP50: number;
  addedP50Ws: number;
  /** gateway p99 ÷ best naive forwarder p99 (TCP). */
  p99VsFwd: number;
}

export function unaryCells(runs: BenchRun[]): UnaryCell[] {
  const cells: UnaryCell[] = [];
  const keys = new Set(runs.filter((r) => r.group === "unary").map((r) => `${r.size}|${r.inflight}`));
  for (const k of keys) {
    const [size, inflight] = k.split("|").map(Number) as [number, number];
    const get = (target: string) => find(runs, "unary", target, size, inflight);
    const [gw, gwWs, fwd, fwdWs, fwdHono, direct, floor, floorWs, gwB] = ["gateway", "gateway-ws", "forwarder", "forwarder-ws", "forwarder-hono", "direct", "nats", "nats-ws", "gateway-b"].map(get);
    const rate = (a?: BenchRun, b?: BenchRun) => (a && b ? a.opsPerSec / b.opsPerSec : NaN);
    const added = (a?: BenchRun, b?: BenchRun) => (a && b ? a.result.lat.p50 - b.result.lat.p50 : NaN);
    cells.push({
      size,
      inflight,
      gw,
      gwWs,
      fwd,
      fwdWs,
      fwdHono,
      direct,
      floor,
      floorWs,
      gwB,
      vsB: rate(gw, gwB),
      vsFwd: rate(gw, fwd),
      vsFwdWs: rate(gwWs, fwdWs),
      vsHono: rate(gw, fwdHono),
      vsDirect: rate(gw, direct),
      addedP50: added(gw, floor),
      addedP50Ws: added(gwWs, floorWs),
      p99VsFwd: gw && fwd ? gw.result.lat.p99 / fwd.result.lat.p99 : NaN,
    });
  }
  return cells.sort((a, b) => a.size - b.size || a.inflight - b.inflight);
}

interface Target {
  name: string;
  measured: string;
  met: boolean | undefined;
}

export function evaluateTargets(input: ReportInput): Target[] {
  const cells = unaryCells(input.runs);
  const t: Target[] = [];
  const minOf = (xs: number[]) => (xs.length ? Math.min(...xs) : NaN);
  const maxOf = (xs: number[]) => (xs.length ? Math.max(...xs) : NaN);
  const fin = (xs: number[]) => xs.filter(Number.isFinite);

  const vsFwd = fin(cells.map((c) => c.vsFwd));
  const worstFwd = cells.filter((c) => Number.isFinite(c.vsFwd)).sort((a, b) => a.vsFwd - b.vsFwd)[0];
  t.push({
    name: "full gateway ≥ 0.9× the best naive forwarder (node:http, NATS TCP) at every size / in flight",
    measured: vsFwd.length ? `min ${f2(minOf(vsFwd))}× (${sizeLabel(worstFwd!.size)} ×${worstFwd!.inflight}); max ${f2(maxOf(vsFwd))}×` : "not run",
    met: vsFwd.length ? minOf(vsFwd) >= 0.9 : undefined,
  });
  const d = cells.filter((c) => c.size === 64 && c.inflight >= 16 && Number.isFinite(c.vsDirect));
  t.push({
    name: "≥ 1.3× direct connect-node at 64 B with ≥ 16 in flight",
    measured: d.length ? d.map((c) => `×${c.inflight}: ${f2(c.vsDirect)}×`).join(", ") : "not run",
    met: d.length ? d.every((c) => c.vsDirect >= 1.3) : undefined,
  });
  const one = cells.filter((c) => c.inflight === 1 && Number.isFinite(c.addedP50));
  t.push({
    name: "added p50 over the raw NATS floor ≤ 0.12 ms at 1 in flight",
    measured: one.length ? one.map((c) => `${sizeLabel(c.size)}: +${ms(c.addedP50)} ms`).join(", ") : "not run",
    met: one.length ? one.every((c) => c.addedP50 <= 0.12) : undefined,
  });
  const p99 = fin(cells.map((c) => c.p99VsFwd));
  const worstP99 = cells.filter((c) => Number.isFinite(c.p99VsFwd)).sort((a, b) => b.p99VsFwd - a.p99VsFwd)[0];
  t.push({
    name: "gateway p99 ≤ 2× the forwarder's",
    measured: p99.length ? `worst ${f2(maxOf(p99))}× (${sizeLabel(worstP99!.size)} ×${worstP99!.inflight})` : "not run",
    met: p99.length ? maxOf(p99) <= 2 : undefined,
  });
  const ws = input.runs.find((r) => r.group === "ws" && r.label.includes("16 in flight") && r.label.endsWith("64 streams"));
  const each = ws ? Math.min(ws.result.extra?.["sentPerSec"] ?? NaN, ws.result.extra?.["recvPerSec"] ?? NaN) : NaN;
  t.push({
    name: "grpc-websockets bidi ≥ 30,000 msg/s each way over 64 streams",
    measured: ws ? `${f0(ws.result.extra?.["sentPerSec"] ?? NaN)} up / ${f0(ws.result.extra?.["recvPerSec"] ?? NaN)} down msg/s` : "not run",
    met: ws ? each >= 30_000 : undefined,
  });
  const idle = input.idle.find((i) => i.streams >= 10_000) ?? input.idle[input.idle.length - 1];
  t.push({
    name: "≤ 30 KiB gateway memory per idle stream at 10,000 streams",
    measured: idle ? `${f1(idle.rssPerStream / 1024)} KiB RSS (${f1(idle.heapPerStream / 1024)} KiB heap) per stream at ${f0(idle.streams)}` : "not run",
    met: idle ? idle.streams >= 10_000 && idle.rssPerStream <= 30 * 1024 : undefined,
  });
  const jwt = input.runs.filter((r) => r.group === "jwt");
  const mean = (xs: BenchRun[]) => xs.reduce((s, r) => s + r.opsPerSec, 0) / xs.length;
  const a = jwt.filter((r) => r.target === "gateway-jwt");
  const b = jwt.filter((r) => r.target === "gateway");
  const jr = a.length && b.length ? mean(a) / mean(b) : NaN;
  t.push({
    name: "cached-JWT within 5% of unauthenticated",
    measured: Number.isFinite(jr) ? `${f2(jr)}× (${f0(mean(a))} vs ${f0(mean(b))} req/s, mean of ${a.length} interleaved rounds)` : "not run",
    met: Number.isFinite(jr) ? jr >= 0.95 : undefined,
  });
  const cpu = cells.filter((c) => c.size === 64 && c.gw).map((c) => ({ n: c.inflight, us: c.gw!.cpuPerOp["server"] ?? NaN }));
  const at64 = cpu.find((c) => c.n === 64);
  t.push({
    name: "gateway CPU ≤ 60 µs per 64 B unary call",
    measured: cpu.length ? cpu.map((c) => `×${c.n}: ${f1(c.us)} µs`).join(", ") : "not run",
    met: at64 ? at64.us <= 60 : undefined,
  });
  return t;
}

function runTable(runs: BenchRun[], withInflight = true): string[] {
  const lines = [
    `| scenario | ${withInflight ? "in flight | " : ""}throughput | p50 ms | p99 ms | CPU µs/op: server | nats-server | responder | driver | errors |`,
    `|---|${withInflight ? "---:|" : ""}---:|---:|---:|---:|---:|---:|---:|---:|`,
  ];
  for (const r of runs) {
    const c = r.cpuPerOp;
    lines.push(
      `| ${r.label} | ${withInflight ? r.inflight + " | " : ""}${f0(r.opsPerSec)} ${r.unit} | ${ms(r.result.lat.p50)} | ${ms(r.result.lat.p99)} | ${f1(c["server"] ?? NaN)} | ${f1(c["nats-server"] ?? NaN)} | ${f1(c["responder"] ?? NaN)} | ${f1(c["driver"] ?? NaN)} | ${r.result.errors} |`,
    );
  }
  return lines;
}

export function renderMarkdown(input: ReportInput): string {
  const L: string[] = [];
  const m = input.machine;
  L.push(`# edge-signal benchmarks — ${input.stamp}`, "");
  L.push(`- Command: \`${input.command}\` (${input.quick ? "quick" : "full"} mode), ${input.date}, took ${f0(input.totalS)} s.`);
  L.push(`- Machine: ${m.cpus} × ${m.cpuModel}, Node ${m.node}, ${m.natsServer}; /proc/loadavg at the end: \`${m.loadavg}\`. Shared with other work: absolute numbers are noisy, **ratios within this run** are what to compare.`);
  L.push(`- Each run: ${input.warmupMs} ms warm-up, then ${input.durationMs} ms measured. Every part is its own process on loopback: nats-server, responder (registry + demo node over nats-grpc + raw NATS echo; NATS over TCP), the gateway (NATS over TCP, and a second over WebSocket), connect-node direct, the naive forwarders (node:http over TCP and WebSocket, Hono over TCP), the Deno and workerd entries, and the load drivers (autocannon for HTTP, a \`ws\` grpc-websockets driver, raw NATS drivers over TCP and WebSocket).`);
  L.push(`- NATS: "gateway" and "forwarder" without a transport named connect over **TCP** (how Node deployments connect); the "WebSocket" rows over WebSocket (what Deno and Workers must use); the responder over TCP. The ratio columns compare like with like: gateway ÷ the best naive forwarder (node:http + one \`nc.request\`) on the same transport.`);
  L.push(`- V8 flags: gateway \`${input.flags.gateway.join(" ")}\` (\`--expose-gc\` only for the idle-stream memory reading); forwarder, connect-node and responder \`${input.flags.server.join(" ")}\`; drivers \`${input.flags.driver.join(" ")}\`.`);
  L.push(`- CPU µs/op: (utime + stime) from \`/proc/<pid>/stat\` over the measured window ÷ operations (requests, or messages for streams); the driver's own from \`process.cpuUsage\`. "server" is the HTTP server under test (gateway, connect-node or forwarder).`);
  L.push("");

  const cells = unaryCells(input.runs);
  L.push("## Goals (issue 20)", "", "| goal | measured | met | cause (from this run's breakdown, copies and profiles) |", "|---|---|---|---|");
  for (const g of evaluateGoals(input, cells)) L.push(`| ${g.goal} | ${g.measured} | ${ok(g.met)} | ${g.cause || (g.met === undefined ? "not measured in this run" : "")} |`);
  L.push("");
  L.push("## Earlier targets", "", "| target | measured | met |", "|---|---|---|");
  for (const t of evaluateTargets(input)) L.push(`| ${t.name} | ${t.measured} | ${ok(t.met)} |`);
  L.push("");

  if (cells.length) {
    L.push("## Connect unary (POST application/proto)", "");
    L.push(`Each cell: ${input.rounds} interleaved round${input.rounds > 1 ? "s" : ""} over the targets, merged: ops and CPU summed, latency percentiles averaged. At 1 and 64 in flight every target runs; at 16 and 256 the TCP four (floor, forwarder, connect-node, gateway).`, "");
    L.push("Floor = raw NATS request/reply to the TCP responder with the same payload bytes (no HTTP). Forwarder = the best naive forwarder: node:http + one `nc.request` to a raw echo (the Hono one beside it). connect-node = the echo served in-process by `connectNodeAdapter` on node:http (no NATS hop). Gateway = the full path (Connect on the Node fast path → Director → nats-grpc → demo node).", "");
    L.push(
      "| size | in flight | floor req/s | forwarder | Hono fwd | connect-node | **gateway** | gw ÷ fwd | gw ÷ connect-node | gw p50 − floor p50 | gw p99 ÷ fwd p99 | WS: floor | WS: fwd | WS: gateway | WS: gw ÷ fwd | WS: gw p50 − floor p50 |",
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    );
    const added = (n: number) => (Number.isFinite(n) ? (n >= 0 ? "+" : "") + ms(n) + " ms" : "–");
    const rate = (r?: BenchRun) => f0(r?.opsPerSec ?? NaN);
    for (const c of cells) {
      L.push(
        `| ${sizeLabel(c.size)} | ${c.inflight} | ${rate(c.floor)} | ${rate(c.fwd)} | ${rate(c.fwdHono)} | ${rate(c.direct)} | **${rate(c.gw)}** | ${f2(c.vsFwd)} | ${f2(c.vsDirect)} | ${added(c.addedP50)} | ${f2(c.p99VsFwd)} | ${rate(c.floorWs)} | ${rate(c.fwdWs)} | ${rate(c.gwWs)} | ${f2(c.vsFwdWs)} | ${added(c.addedP50Ws)} |`,
      );
    }
    if (cells.some((c) => c.gwB)) {
      L.push("", "A/B against the `--compare` bundle (gateway-b), same run:", "", "| size | in flight | gateway req/s | gateway-b req/s | gateway ÷ gateway-b | gateway CPU µs/req | gateway-b CPU µs/req |", "|---|---:|---:|---:|---:|---:|---:|");
      for (const c of cells) {
        if (!c.gwB) continue;
        L.push(`| ${sizeLabel(c.size)} | ${c.inflight} | ${f0(c.gw?.opsPerSec ?? NaN)} | ${f0(c.gwB.opsPerSec)} | ${f2(c.vsB)} | ${f1(c.gw?.cpuPerOp["server"] ?? NaN)} | ${f1(c.gwB.cpuPerOp["server"] ?? NaN)} |`);
      }
    }
    L.push("", "All unary runs:", "", ...runTable(input.runs.filter((r) => r.group === "unary")), "");
  }
  L.push(...honoSection(input), ...breakdownSection(input), ...largeSection(input, (rs) => runTable(rs)), ...runtimesSection(input));
  const sections: [BenchRun["group"], string, string][] = [
    ["grpc-web", "gRPC-Web unary (binary)", "Gateway vs connect-node serving gRPC-Web itself, 64 B."],
    ["stream", "Connect server streaming", "EchoStream with repeat 1000 over HTTP/1.1 (autocannon: each request reads the whole stream); throughput in messages/s, latency per whole stream, CPU per message."],
    ["ws", "grpc-websockets (improbable-eng, as ion-sdk-js)", "Driver speaks the protocol over `ws`: header block first, then `0x00` + gRPC frame per message. Ping-pong = 1 message in flight per stream (latency = round trip); 16 in flight per stream = message rate each way; one way = EchoStream (repeat 10000) server → client."],
    ["jwt", "JWT-protected unary (cached HS256 token) vs unauthenticated", "Two gateway processes, same config except `[signal.jwt]`; runs interleaved."],
  ];
  for (const [g, title, text] of sections) {
    const rs = input.runs.filter((r) => r.group === g);
    if (!rs.length) continue;
    L.push(`## ${title}`, "", text, "", ...runTable(rs), "");
    if (g === "grpc-web") {
      for (const n of [...new Set(rs.map((r) => r.inflight))]) {
        const gw = rs.find((r) => r.target === "gateway" && r.inflight === n);
        const d = rs.find((r) => r.target === "direct" && r.inflight === n);
        if (gw && d) L.push(`- ×${n}: gateway ÷ connect-node = ${f2(gw.opsPerSec / d.opsPerSec)}`);
      }
      L.push("");
    }
    if (g === "stream") {
      const gw = rs.find((r) => r.target === "gateway");
      const d = rs.find((r) => r.target === "direct");
      if (gw && d) L.push(`- gateway ÷ connect-node = ${f2(gw.opsPerSec / d.opsPerSec)}`, "");
    }
    if (g === "ws") {
      for (const r of rs) if (r.result.extra) L.push(`- ${r.label}: ${f0(r.result.extra["sentPerSec"] ?? NaN)} msg/s up, ${f0(r.result.extra["recvPerSec"] ?? NaN)} msg/s down`);
      L.push("");
    }
  }
  if (input.idle.length) {
    L.push("## Idle grpc-websockets streams", "", "N EchoBidi streams opened (header frame sent, no message) and left idle; the gateway holds a WebSocket, a session and an open nats-grpc call for each. Memory read after 3 forced GCs; delta from before the first stream ÷ N. Streams come from 127.0.0.2… so no address passes the default 1,000 calls per IP.", "");
    L.push("| streams | calls in flight | failed | open time | gateway RSS / stream | gateway heap / stream | responder RSS / stream |", "|---:|---:|---:|---:|---:|---:|---:|");
    for (const i of input.idle) {
      L.push(`| ${f0(i.streams)} | ${f0(i.inFlight)} | ${i.failed} | ${f0(i.openMs)} ms | ${f1(i.rssPerStream / 1024)} KiB | ${f1(i.heapPerStream / 1024)} KiB | ${f1(i.responderRssPerStream / 1024)} KiB |`);
    }
    L.push("");
  }
  if (input.startup) {
    L.push("## Gateway start-up", "", `Spawn of the (esbuild-bundled) gateway process to the first \`/readyz\` 200 (NATS connected over WebSocket, discovery synced): median **${f0(input.startup.medianMs)} ms** (runs: ${input.startup.runsMs.map(f0).join(", ")} ms).`, "");
  }
  L.push(...profilesSection(input));
  if (input.sections?.length) {
    L.push("## Where the run's time went", "", "| section | s |", "|---|---:|");
    for (const x of input.sections) L.push(`| ${x.name} | ${f1(x.ms / 1000)} |`);
    L.push("");
  }
  L.push("## Chart", "", `![throughput and latency per scenario](${input.stamp}.svg)`, "");
  return L.join("\n");
}

const colors: Record<string, string> = {
  nats: "#8c8c8c",
  "nats-ws": "#bdbdbd",
  forwarder: "#e08a2c",
  "forwarder-ws": "#f2b872",
  "forwarder-hono": "#b5651d",
  "forwarder-hono-node": "#d9a066",
  "http-echo": "#dddddd",
  direct: "#3a78c2",
  gateway: "#2e9e5b",
  "gateway-ws": "#7cc79a",
  "gateway-jwt": "#1b6e6e",
  "gateway-b": "#9b59b6",
  deno: "#222222",
  workerd: "#f38020",
};

const legend: Record<string, string> = {
  nats: "raw NATS floor (TCP)",
  "nats-ws": "raw NATS floor (WS)",
  forwarder: "naive fwd node:http (TCP)",
  "forwarder-ws": "naive fwd node:http (WS)",
  "forwarder-hono": "naive fwd Hono (TCP)",
  "forwarder-hono-node": "Hono fwd, Node body",
  "http-echo": "HTTP echo (no NATS)",
  direct: "connect-node direct",
  gateway: "gateway (TCP)",
  "gateway-ws": "gateway (WS)",
  "gateway-jwt": "gateway, cached JWT",
  "gateway-b": "gateway-b (--compare)",
  deno: "Deno",
  workerd: "workerd",
};

const groupTitles: Record<BenchRun["group"], string> = {
  unary: "Connect unary",
  hono: "What @hono/node-server costs (64 B ×64)",
  breakdown: "Latency breakdown runs (1 in flight)",
  large: "Large messages (1 MiB)",
  runtimes: "Every runtime (NATS over WebSocket)",
  "grpc-web": "gRPC-Web unary",
  stream: "Connect server streaming",
  ws: "grpc-websockets",
  jwt: "JWT vs no auth",
};

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** Horizontal bars: throughput (linear, one scale per unit) and p50/p99 latency (log scale). */
export function renderSvg(input: ReportInput): string {
  const runs = input.runs;
  const rowH = 17;
  const labelW = 340;
  const tpX = labelW + 10;
  const tpW = 330;
  const latX = tpX + tpW + 40;
  const latW = 300; // the scale; value labels go to its right
  const width = latX + latW + 110;
  const groups = [...new Set(runs.map((r) => r.group))];
  const rows: ({ kind: "head"; text: string } | { kind: "run"; run: BenchRun })[] = [];
  for (const g of groups) {
    rows.push({ kind: "head", text: groupTitles[g] });
    for (const r of runs.filter((x) => x.group === g)) rows.push({ kind: "run", run: r });
  }
  // legend, laid out first: it may take more than one line
  const present = new Set(runs.map((r) => r.target));
  const legendItems: { x: number; row: number; text: string; color: string }[] = [];
  {
    let lgx = 10;
    let row = 0;
    for (const [k, c] of Object.entries(colors)) {
      if (!present.has(k)) continue;
      const text = legend[k] ?? k;
      const w = 30 + text.length * 6.5;
      if (lgx + w > width - 10) {
        lgx = 10;
        row++;
      }
      legendItems.push({ x: lgx, row, text, color: c });
      lgx += w;
    }
  }
  const extra = 14 * Math.max(0, (legendItems[legendItems.length - 1]?.row ?? 0));
  const top = 74 + extra;
  const bdTop = top + rows.length * rowH + 40;
  const bdRowH = 34;
  const height = (input.breakdowns.length ? bdTop + 40 + input.breakdowns.length * bdRowH : top + rows.length * rowH) + 30;
  const maxBy: Record<string, number> = {};
  for (const r of runs) maxBy[r.unit] = Math.max(maxBy[r.unit] ?? 0, r.opsPerSec);
  const lats = runs.flatMap((r) => [r.result.lat.p50, r.result.lat.p99]).filter((x) => Number.isFinite(x) && x > 0);
  const lo = 0.05;
  const hi = Math.max(1, ...lats) * 1.2;
  const lx = (v: number) => latX + (latW * (Math.log10(Math.max(v, lo)) - Math.log10(lo))) / (Math.log10(hi) - Math.log10(lo));
  const o: string[] = [];
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Arial, sans-serif" font-size="11">`);
  o.push(`<rect width="100%" height="100%" fill="#ffffff"/>`);
  o.push(`<text x="10" y="18" font-size="14" font-weight="bold">edge-signal benchmarks ${esc(input.stamp)} — throughput and latency per scenario (same run)</text>`);
  o.push(`<text x="${tpX}" y="${60 + extra}" font-weight="bold">throughput (req/s or msg/s; one scale per unit)</text>`);
  o.push(`<text x="${latX}" y="${60 + extra}" font-weight="bold">latency, log scale: p50 dark, p99 light (ms)</text>`);
  for (const it of legendItems) {
    const y = 31 + 14 * it.row;
    o.push(`<rect x="${it.x}" y="${y}" width="10" height="10" fill="${it.color}"/><text x="${it.x + 14}" y="${y + 9}">${esc(it.text)}</text>`);
  }
  if (input.breakdowns.length) o.push(...breakdownBars(input, bdTop, bdRowH, width));
  // latency grid
  let lastTick = -Infinity;
  for (const v of [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]) {
    if (v > hi) break;
    const x = lx(v);
    if (x - lastTick < 24) continue;
    lastTick = x;
    o.push(`<line x1="${x.toFixed(1)}" y1="${top - 6}" x2="${x.toFixed(1)}" y2="${top + rows.length * rowH + 4}" stroke="#e4e4e4"/>`);
    o.push(`<text x="${x.toFixed(1)}" y="${top + rows.length * rowH + 16}" text-anchor="middle" fill="#666">${v}</text>`);
  }
  rows.forEach((row, i) => {
    const y = top + i * rowH;
    if (row.kind === "head") {
      o.push(`<text x="10" y="${y + 12}" font-weight="bold">${esc(row.text)}</text>`);
      o.push(`<line x1="10" y1="${y + 15}" x2="${width - 10}" y2="${y + 15}" stroke="#bbb"/>`);
      return;
    }
    const r = row.run;
    const c = colors[r.target] ?? "#555";
    if (i % 2 === 0) o.push(`<rect x="0" y="${y}" width="${width}" height="${rowH}" fill="#f7f7f7"/>`);
    o.push(`<text x="${labelW}" y="${y + 12}" text-anchor="end">${esc(r.label)}</text>`);
    const w = (tpW - 70) * (r.opsPerSec / (maxBy[r.unit] || 1));
    o.push(`<rect x="${tpX}" y="${y + 3}" width="${Math.max(1, w).toFixed(1)}" height="${rowH - 6}" fill="${c}"/>`);
    o.push(`<text x="${(tpX + w + 4).toFixed(1)}" y="${y + 12}" fill="#333">${f0(r.opsPerSec)} ${r.unit}</text>`);
    const l = r.result.lat;
    if (Number.isFinite(l.p99) && Number.isFinite(l.p50)) {
      o.push(`<rect x="${latX}" y="${y + 3}" width="${Math.max(1, lx(l.p99) - latX).toFixed(1)}" height="${rowH - 6}" fill="${c}" fill-opacity="0.35"/>`);
      o.push(`<rect x="${latX}" y="${y + 5}" width="${Math.max(1, lx(l.p50) - latX).toFixed(1)}" height="${rowH - 10}" fill="${c}"/>`);
      o.push(`<text x="${(lx(l.p99) + 4).toFixed(1)}" y="${y + 12}" fill="#333">${ms(l.p50)} / ${ms(l.p99)}</text>`);
    }
  });
  o.push(`</svg>`);
  return o.join("\n");
}

/**
 * The latency breakdown as stacked bars, one per size: the gateway's segments in hop order, its wait
 * for NATS split into the node's span and the rest (NATS both ways), then the client side; the raw
 * NATS floor's p50 as a line. µs, linear.
 */
function breakdownBars(input: ReportInput, y0: number, rowH: number, width: number): string[] {
  const o: string[] = [];
  const x0 = 130;
  const w = width - x0 - 30;
  const palette = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f"];
  const bars = input.breakdowns.map((b) => {
    const parts: { name: string; us: number }[] = [];
    const nodeSpan = b.node.reduce((a, s) => a + s.p50Us, 0);
    let gwSpan = 0;
    for (const s of b.gateway) {
      gwSpan += s.p50Us;
      if (s.from === "published" && s.to === "reply-received") {
        parts.push({ name: "NATS both ways", us: Math.max(0, s.p50Us - nodeSpan) });
        parts.push({ name: "demo node", us: nodeSpan });
      } else parts.push({ name: `${s.from}→${s.to}`, us: s.p50Us });
    }
    parts.push({ name: "HTTP client + loopback", us: Math.max(0, b.gatewayP50 * 1000 - gwSpan) });
    return { b, parts, total: parts.reduce((a, p) => a + p.us, 0) };
  });
  const max = Math.max(...bars.map((x) => Math.max(x.total, x.b.floorP50 * 1000))) * 1.05;
  o.push(`<text x="10" y="${y0}" font-weight="bold" font-size="12">Where one call's time goes at 1 in flight (gateway, NATS over TCP; medians, µs; | = raw NATS floor p50)</text>`);
  const names = [...new Set(bars.flatMap((x) => x.parts.map((p) => p.name)))];
  let lgx = 10;
  names.forEach((n, i) => {
    o.push(`<rect x="${lgx}" y="${y0 + 8}" width="10" height="10" fill="${palette[i % palette.length]}"/><text x="${lgx + 13}" y="${y0 + 17}" font-size="10">${esc(n)}</text>`);
    lgx += 22 + n.length * 5.6;
  });
  bars.forEach((x, i) => {
    const y = y0 + 30 + i * rowH;
    o.push(`<text x="${x0 - 8}" y="${y + 14}" text-anchor="end">${esc(`${x.b.size >= 1024 ? x.b.size / 1024 + " KiB" : x.b.size + " B"} (${Math.round(x.total)} µs)`)}</text>`);
    let at = x0;
    for (const p of x.parts) {
      const pw = (w * p.us) / max;
      o.push(`<rect x="${at.toFixed(1)}" y="${y + 2}" width="${Math.max(0.5, pw).toFixed(1)}" height="${rowH - 12}" fill="${palette[names.indexOf(p.name) % palette.length]}"><title>${esc(`${p.name}: ${Math.round(p.us)} µs`)}</title></rect>`);
      if (pw > 28) o.push(`<text x="${(at + pw / 2).toFixed(1)}" y="${y + 16}" text-anchor="middle" font-size="9" fill="#fff">${Math.round(p.us)}</text>`);
      at += pw;
    }
    const fx = x0 + (w * x.b.floorP50 * 1000) / max;
    o.push(`<line x1="${fx.toFixed(1)}" y1="${y - 1}" x2="${fx.toFixed(1)}" y2="${y + rowH - 7}" stroke="#000" stroke-width="2"/>`);
  });
  return o;
}

/** Writes `<dir>/<stamp>.md` and `<dir>/<stamp>.svg`. */
export function writeReport(dir: string, input: ReportInput): { md: string; svg: string } {
  mkdirSync(dir, { recursive: true });
  const md = join(dir, `${input.stamp}.md`);
  const svg = join(dir, `${input.stamp}.svg`);
  writeFileSync(md, renderMarkdown(input));
  writeFileSync(svg, renderSvg(input));
  return { md, svg };
}
