/** Runs the `edge-signal` command (bin/edge-signal.mjs) as a child process for tests, collecting its output. */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { eventually } from "./nats.js";

/** The command's entry. */
export const edgeSignalBin = fileURLToPath(new URL("../../bin/edge-signal.mjs", import.meta.url));

/** A running `edge-signal` child: its output so far, and its exit code once it exits. */
export interface CliProcess {
  readonly child: ChildProcess;
  out(): string;
  err(): string;
  readonly exit: Promise<number | null>;
}

/** Starts `edge-signal <args>` with `env` (default: this process's). */
export function runCli(args: string[], env: NodeJS.ProcessEnv = process.env): CliProcess {
  return runCommand(process.execPath, [edgeSignalBin, ...args], { env });
}

/**
 * Starts any command (`npx`, an installed bin, …) in `cwd` with `env`, collecting its output the same
 * way. `group`: in a process group of its own, for commands that start the real program as a child
 * (npx): {@link stopGroup} then reaches, and waits for, every process of it.
 */
export function runCommand(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; group?: boolean } = {}): CliProcess {
  const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ["ignore", "pipe", "pipe"], detached: opts.group ?? false });
  let out = "";
  let err = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (err += d));
  const exit = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return { child, out: () => out, err: () => err, exit };
}

/**
 * Waits until `edge-signal serve` (or `demo`) has printed its gateway URL and its `/api/nodes` lists
 * `demoNodes` demo nodes; returns the URL (`http://127.0.0.1:port`).
 */
export async function servingGateway(p: CliProcess, demoNodes: number, ms = 30_000): Promise<string> {
  const url: string = await eventually(() => /gateway\s+(http:\/\/[\d.]+:\d+)/.exec(p.out())?.[1] ?? "", ms, "the gateway URL");
  await eventually(async () => {
    const r = await fetch(`${url}/api/nodes`);
    return ((await r.json()).services?.demo?.length ?? 0) === demoNodes;
  }, 10_000, `${demoNodes} demo nodes discovered`);
  return url;
}

/**
 * Whether any process of the process group `pgid` is still running, from /proc (Linux). Zombies do
 * not count: a program orphaned by its wrapper is reaped by PID 1, which on some machines (this
 * one's init) never does.
 */
function groupAlive(pgid: number): boolean {
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      continue; // gone meanwhile
    }
    // pid (comm) state ppid pgrp …: comm may hold spaces and parentheses, so read after the last ')'.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(pgrp) === pgid && state !== "Z") return true;
  }
  return false;
}

/**
 * SIGTERMs every process of a command started with `group: true` and waits (20 s at most: the demo drains, bounded by drain_timeout_ms) until none
 * is left; returns the command's own exit code. A wrapper such as npx may exit before the program it
 * started, which would otherwise outlive the test (found: an `edge-signal demo` and its nats-server
 * left running, parent 1, after a loaded run).
 */
export async function stopGroup(p: CliProcess, ms = 20_000): Promise<number | null> {
  const pgid = p.child.pid!;
  try {
    process.kill(-pgid, "SIGTERM");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ESRCH") throw e; // ESRCH: the group is gone already
  }
  const code = await p.exit;
  try {
    await eventually(() => !groupAlive(pgid), ms, `every process of the command's group (pgid ${pgid}) gone after SIGTERM`);
  } catch (e) {
    const left = execFileSync("ps", ["-o", "pid,ppid,stat,args", "--no-headers", "-g", String(pgid)], { encoding: "utf8" }).trim();
    throw new Error(`${(e as Error).message}; left:\n${left}`);
  }
  return code;
}
