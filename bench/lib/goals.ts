/**
 * The goals of issue 20, evaluated from one run's figures: each row's measured value, whether it is
 * met, and for a row not met the cause this run's own measurements point at (the latency breakdown,
 * the bytes copied, the profiles). Used by the report (bench/lib/report.ts).
 */
import type { BenchRun, Breakdown, CopyCount, ReportInput, UnaryCell } from "./report.js";
import { tailLine } from "./report-sections.js";

/** One goal row. */
export interface Goal {
  goal: string;
  measured: string;
  met: boolean | undefined;
  /** For a goal not met: what this run shows as the cause (empty when met or not run). */
  cause: string;
}

const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : "–");
const f0 = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "–");
const msAdded = (n: number) => (Number.isFinite(n) ? `${n >= 0 ? "+" : ""}${n.toFixed(3)} ms` : "–");
const sizeLabel = (size: number) => (size >= 1024 * 1024 ? `${size / 1024 / 1024} MiB` : size >= 1024 ? `${size / 1024} KiB` : `${size} B`);

/** The biggest segments of a breakdown, as text: `a→b 123 µs`. */
export function largestSegments(b: Breakdown, n = 3, key: "p50Us" | "p90Us" | "p99Us" = "p50Us"): string {
  return [...b.gateway.map((s) => ({ ...s, who: "gateway" })), ...b.node.map((s) => ({ ...s, who: "node" }))]
    .sort((x, y) => y[key] - x[key])
    .slice(0, n)
    .map((s) => `${s.who} ${s.from}→${s.to} ${f0(s[key])} µs`)
    .join(", ");
}

/** The top self-time functions of the profile whose title contains `title`. */
function profileTop(input: ReportInput, title: string, n = 3): string {
  const p = input.profiles.find((x) => x.title.includes(title));
  if (!p) return "";
  const rows = p.summary.top.filter((r) => !/^\((idle|program|garbage collector)\)$/.test(r.name)).slice(0, n);
  const gc = p.summary.top.find((r) => r.name === "(garbage collector)");
  return `profile "${p.title}": ${rows.map((r) => `\`${r.name}\` ${r.pct.toFixed(1)} %`).join(", ")}${gc ? `, GC ${gc.pct.toFixed(1)} %` : ""} of busy time`;
}

/** Bytes copied in JS per call by the TCP gateway at `size`, as text. */
function copiedAt(copies: CopyCount[], size: number): string {
  const c = copies.find((x) => x.size === size && x.target === "gateway");
  if (!c || c.calls === 0) return "";
  const total = Object.values(c.sites).reduce((a, b) => a + b, 0) / c.calls;
  return `${f0(total)} bytes copied in JS per call (${f2(total / size)}× the message)`;
}

/** Evaluates the issue's goals. `cells` = unaryCells(input.runs). */
export function evaluateGoals(input: ReportInput, cells: UnaryCell[]): Goal[] {
  const goals: Goal[] = [];

  // 1. 64 B, 1 in flight: gateway p50 − floor p50 ≤ +0.12 ms
  {
    const c = cells.find((x) => x.size === 64 && x.inflight === 1);
    const b = input.breakdowns.find((x) => x.size === 64);
    const met = c && Number.isFinite(c.addedP50) ? c.addedP50 <= 0.12 : undefined;
    goals.push({
      goal: "64 B, 1 in flight: gateway p50 − raw NATS floor p50 ≤ +0.12 ms",
      measured: c ? `NATS TCP ${msAdded(c.addedP50)}; WebSocket ${msAdded(c.addedP50Ws)}` : "not run",
      met,
      cause:
        met === false
          ? b
            ? `the gateway path has one HTTP round trip more than the floor, and an HTTP round trip alone (node:http echo) takes ${f0(b.httpEchoP50 * 1000)} µs here; breakdown at 1 in flight (64 B): largest hops ${largestSegments(b)}; the gateway's own part (HTTP parsed → response written, NATS wait included) is ${f0(sum(b.gateway))} µs, the node's ${f0(sum(b.node))} µs`
            : "no breakdown in this run (--only=breakdown)"
          : "",
    });
  }

  // 2. 16 KiB: gateway ÷ connect-node ≥ 1.0 from 16 in flight
  {
    const cs = cells.filter((x) => x.size === 16 * 1024 && x.inflight >= 16 && Number.isFinite(x.vsDirect));
    const met = cs.length ? cs.every((x) => x.vsDirect >= 1.0) : undefined;
    const causes = [profileTop(input, "16 KiB"), copiedAt(input.copies, 16 * 1024)].filter(Boolean);
    const cpu = cs.find((x) => x.inflight === 16);
    if (cpu?.gw && cpu.direct) causes.unshift(`CPU per call ×16: gateway ${f0(cpu.gw.cpuPerOp["server"] ?? NaN)} µs + demo node ${f0(cpu.gw.cpuPerOp["responder"] ?? NaN)} µs + nats-server ${f0(cpu.gw.cpuPerOp["nats-server"] ?? NaN)} µs on 2 cores, against connect-node's ${f0(cpu.direct.cpuPerOp["server"] ?? NaN)} µs in one process`);
    goals.push({
      goal: "16 KiB: gateway ÷ connect-node ≥ 1.0 from 16 in flight",
      measured: cs.length ? cs.map((x) => `×${x.inflight}: ${f2(x.vsDirect)}`).join(", ") : "not run",
      met,
      cause: met === false ? causes.join("; ") : "",
    });
  }

  // 3. gateway p99 ÷ best naive forwarder p99, worst cell ≤ 2
  {
    const cs = cells.filter((x) => Number.isFinite(x.p99VsFwd)).sort((a, b) => b.p99VsFwd - a.p99VsFwd);
    const worst = cs[0];
    const met = worst ? worst.p99VsFwd <= 2 : undefined;
    let cause = "";
    if (met === false && worst) {
      cause = `worst cell ${sizeLabel(worst.size)} ×${worst.inflight}: gateway p99 ${worst.gw!.result.lat.p99.toFixed(3)} ms vs forwarder ${worst.fwd!.result.lat.p99.toFixed(3)} ms`;
      const b = input.breakdowns.find((x) => x.size === worst.size);
      if (worst.inflight === 1 && b) cause += `; at 1 in flight the slowest hops at p99 are ${largestSegments(b, 3, "p99Us")}. ${b.gatewayWhole ? tailLine(b) : ""}`;
      else cause += `; ${profileTop(input, worst.size >= 16 * 1024 ? "16 KiB" : "64 B")}`;
    }
    goals.push({
      goal: "gateway p99 ÷ best naive forwarder p99, worst cell ≤ 2",
      measured: worst ? `${f2(worst.p99VsFwd)} (${sizeLabel(worst.size)} ×${worst.inflight})` : "not run",
      met,
      cause,
    });
  }

  // 4. gateway ÷ best naive forwarder, 64 B ×64 ≥ 1.2, both transports
  {
    const c = cells.find((x) => x.size === 64 && x.inflight === 64);
    const vals = c ? [c.vsFwd, c.vsFwdWs].filter(Number.isFinite) : [];
    const met = vals.length ? vals.every((v) => v >= 1.2) : undefined;
    let cause = "";
    if (met === false && c?.gw && c.fwd) {
      const cpu = (r?: BenchRun) => f0(r?.cpuPerOp["server"] ?? NaN);
      cause = `CPU per call: gateway ${cpu(c.gw)} µs (WebSocket ${cpu(c.gwWs)}) vs forwarder ${cpu(c.fwd)} µs (WebSocket ${cpu(c.fwdWs)}): the gateway does the forwarder's work plus the protocol, routing and nats-grpc envelopes; ${profileTop(input, "64 B × 64")}`;
    }
    goals.push({
      goal: "gateway ÷ the best naive forwarder (node:http + one nc.request), 64 B ×64 ≥ 1.2",
      measured: c ? `NATS TCP ${f2(c.vsFwd)}; WebSocket ${f2(c.vsFwdWs)} (Hono forwarder: ${f2(c.vsHono)})` : "not run",
      met,
      cause,
    });
  }

  // 5. Deno and workerd measured beside Node
  {
    const rs = input.runtimes;
    const measured = (name: string) => input.runs.some((r) => r.group === "runtimes" && r.target === name && r.result.count > 0);
    const met = rs.length ? ["deno", "workerd"].every(measured) : undefined;
    goals.push({
      goal: "Deno and Workers (workerd) entries measured beside Node in the same run",
      measured: rs.length ? rs.map((r) => `${r.name}: ${measured(r.name) ? `measured (ready in ${(r.readyMs / 1000).toFixed(1)} s)` : `not measured${r.error ? ` (${r.error.split("\n")[0]})` : ""}`}`).join("; ") : "not run",
      met,
      cause: met === false ? rs.filter((r) => r.error).map((r) => `${r.name}: ${r.error!.split("\n")[0]}`).join("; ") : "",
    });
  }

  // 6. the full bench under 10 minutes
  goals.push({
    goal: "full `npm run bench` under 10 minutes",
    measured: `${f0(input.totalS)} s (${input.quick ? "quick" : input.command.includes("--only") ? "partial" : "full"} run)`,
    met: input.quick || input.command.includes("--only") ? undefined : input.totalS <= 600,
    cause:
      !input.quick && input.totalS > 600
        ? `longest sections: ${[...(input.sections ?? [])].sort((a, b) => b.ms - a.ms).slice(0, 3).map((x) => `${x.name} ${f0(x.ms / 1000)} s`).join(", ")}; /proc/loadavg at the end \`${input.machine.loadavg}\` (a loaded machine stretches every start and window)`
        : "",
  });
  return goals;
}

function sum(segs: { p50Us: number }[]): number {
  return segs.reduce((a, s) => a + s.p50Us, 0);
}
