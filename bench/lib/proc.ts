/**
 * The orchestrator's side of the benchmark processes: spawn one (node + flags + a bundled entry, with
 * an IPC channel), wait for `ready`, send commands, listen to events, stop it. And the per-process
 * numbers read from /proc: CPU time (utime + stime) and RSS.
 */
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readdirSync, readFileSync } from "node:fs";

const clkTck = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU time (user + system) of `pid` in µs, from /proc/<pid>/stat (resolution 1/CLK_TCK s). */
export function cpuMicrosOf(pid: number): number {
  const s = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
  // after "pid (comm) ": state is field 3, utime 14, stime 15 → indexes 11 and 12 here
  return ((Number(f[11]) + Number(f[12])) * 1e6) / clkTck;
}

/**
 * CPU time (user + system, µs) of every live process in process group `pgid`: a runtime started
 * detached with its helpers (wrangler → workerd, esbuild). A process that exits inside the window
 * takes its CPU time with it (not counted).
 */
export function cpuMicrosOfGroup(pgid: number): number {
  let total = 0;
  for (const v of Object.values(cpuMicrosByCommand(pgid))) total += v;
  return total;
}

/** {@link cpuMicrosOfGroup} by command name (`workerd`, `node`, `deno`, `esbuild`). */
export function cpuMicrosByCommand(pgid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const d of readdirSync("/proc")) {
    if (d.charCodeAt(0) < 48 || d.charCodeAt(0) > 57) continue;
    let s: string;
    try {
      s = readFileSync(`/proc/${d}/stat`, "utf8");
    } catch {
      continue; // gone meanwhile
    }
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    // after "pid (comm) ": pgrp is field 5 → index 2; utime 14, stime 15 → 11, 12
    if (Number(f[2]) !== pgid) continue;
    const comm = s.slice(s.indexOf("(") + 1, s.lastIndexOf(")"));
    out[comm] = (out[comm] ?? 0) + ((Number(f[11]) + Number(f[12])) * 1e6) / clkTck;
  }
  return out;
}

/** Resident set size of `pid` in bytes (/proc/<pid>/status VmRSS). */
export function rssOf(pid: number): number {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const m = /VmRSS:\s+(\d+) kB/.exec(s);
  return m ? Number(m[1]) * 1024 : NaN;
}

export type EventHandler = (event: string, data: Record<string, unknown>) => void;

/** A running benchmark process. */
export interface Proc {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  readonly info: Record<string, unknown>;
  readonly flags: string[];
  call<T = unknown>(cmd: string, args?: unknown, timeoutMs?: number): Promise<T>;
  /** Receives the process's events (measure-start, measure-end) until replaced. */
  onEvent: EventHandler | undefined;
  /** Asks it to exit cleanly (profiles get written), then kills it. */
  stop(): Promise<void>;
}

/** Starts `node <flags> <file> <args>` with IPC and waits for its `ready` event. */
export async function startProc(name: string, file: string, args: string[], flags: string[] = [], logFile?: string, readyTimeoutMs = 30_000): Promise<Proc> {
  const out = logFile ? openSync(logFile, "a") : "inherit";
  const child = spawn(process.execPath, [...flags, file, ...args], { stdio: ["ignore", out, out, "ipc"] });
  if (typeof out === "number") closeSync(out);
  let seq = 0;
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let readyResolve!: (info: Record<string, unknown>) => void;
  let readyReject!: (e: Error) => void;
  const ready = new Promise<Record<string, unknown>>((res, rej) => ((readyResolve = res), (readyReject = rej)));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const proc: Proc = {
    name,
    get pid() {
      return child.pid!;
    },
    child,
    info: {},
    flags,
    onEvent: undefined,
    call(cmd, a, timeoutMs = 120_000) {
      const id = ++seq;
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${name}: ${cmd} timed out`));
        }, timeoutMs);
        pending.set(id, {
          resolve: (v) => (clearTimeout(t), resolve(v as never)),
          reject: (e) => (clearTimeout(t), reject(e)),
        });
        child.send({ id, cmd, args: a });
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      try {
        if (child.connected) await proc.call("exit", undefined, 10_000);
      } catch {
        // killed below
      }
      const t = setTimeout(() => child.kill("SIGKILL"), 5000);
      if (child.connected) child.disconnect();
      await exited;
      clearTimeout(t);
    },
  };
  child.on("message", (m: { id?: number; ok?: boolean; value?: unknown; error?: string; event?: string }) => {
    if (m.event === "ready") {
      Object.assign(proc.info, m);
      readyResolve(proc.info);
    } else if (m.event) {
      proc.onEvent?.(m.event, m as Record<string, unknown>);
    } else if (m.id !== undefined) {
      const p = pending.get(m.id);
      pending.delete(m.id);
      if (m.ok) p?.resolve(m.value);
      else p?.reject(new Error(`${name}: ${m.error}`));
    }
  });
  child.once("exit", (code, sig) => {
    const e = new Error(`${name} exited (${code ?? sig})${logFile ? `; see ${logFile}` : ""}`);
    readyReject(e);
    for (const p of pending.values()) p.reject(e);
    pending.clear();
  });
  const t = setTimeout(() => readyReject(new Error(`${name} was not ready in ${readyTimeoutMs} ms`)), readyTimeoutMs);
  try {
    await ready;
  } finally {
    clearTimeout(t);
  }
  return proc;
}
