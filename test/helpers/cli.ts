/** Runs the `edge-signal` command (bin/edge-signal.mjs) as a child process for tests, collecting its output. */
import { spawn, type ChildProcess } from "node:child_process";
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

/** Starts any command (`npx`, an installed bin, …) in `cwd` with `env`, collecting its output the same way. */
export function runCommand(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): CliProcess {
  const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ["ignore", "pipe", "pipe"] });
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
