/**
 * Runs another runtime's gateway as a child process for the runtime suite: Deno (`deno run`) and
 * Cloudflare's workerd (`wrangler dev`), each in its own process group so `stop()` ends it and every
 * grandchild (workerd, esbuild).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "../../src/cli/nats-server.js";

/** The package root. */
export const root = fileURLToPath(new URL("../../", import.meta.url));

/** A gateway running in a child process. */
export interface RuntimeProcess {
  readonly url: string;
  /** The child's pid, also its process group id (it and its descendants: workerd, esbuild). */
  readonly pid: number;
  /** Everything the process wrote so far (for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

/** Spawns `cmd` in a new process group and waits until `GET url/readyz` answers 200. */
export async function spawnGateway(cmd: string, args: string[], env: Record<string, string>, port: number, readyMs: number, cleanup?: () => Promise<void>): Promise<RuntimeProcess> {
  const url = `http://127.0.0.1:${port}`;
  let out = "";
  const child: ChildProcess = spawn(cmd, args, {
    cwd: root,
    env: { ...process.env, ...env },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  let dead = false;
  void exited.then(() => (dead = true));

  const stop = async () => {
    if (!dead && child.pid !== undefined) {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {}
      const t = setTimeout(() => {
        try {
          process.kill(-child.pid!, "SIGKILL");
        } catch {}
      }, 5000);
      await exited;
      clearTimeout(t);
    }
    child.stdout!.destroy();
    child.stderr!.destroy();
    await cleanup?.();
  };

  const end = Date.now() + readyMs;
  for (;;) {
    if (dead) {
      await stop();
      throw new Error(`${cmd} exited before it was ready:\n${out}`);
    }
    try {
      const res = await fetch(url + "/readyz", { signal: AbortSignal.timeout(5000) });
      await res.body?.cancel();
      if (res.status === 200) break;
    } catch {}
    if (Date.now() > end) {
      await stop();
      throw new Error(`${cmd} not ready after ${readyMs} ms:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, pid: child.pid!, output: () => out, stop };
}

/**
 * `deno run -A src/runtime/deno/index.ts` with `env` (NATS_URL, JWT_KEY, ...) on a free port. deno.json
 * gives Deno the project's node_modules and the sources' `.js` → `.ts` specifiers.
 */
export async function startDeno(env: Record<string, string>, readyMs = 90_000): Promise<RuntimeProcess> {
  const port = await freePort();
  return spawnGateway(
    join(root, "node_modules/.bin/deno"),
    ["run", "-A", "src/runtime/deno/index.ts"],
    { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1", HOST: "127.0.0.1", PORT: String(port), ...env },
    port,
    readyMs,
  );
}

/**
 * `wrangler dev` of wrangler.toml (the Worker and its hub Durable Object in real workerd) on a free
 * port, `env` passed as `--var`s, state in a temporary directory.
 */
export async function startWorkerd(env: Record<string, string>, readyMs = 120_000): Promise<RuntimeProcess> {
  const port = await freePort();
  const inspector = await freePort();
  const state = await mkdtemp(join(tmpdir(), "edge-signal-wrangler-"));
  const vars = Object.entries(env).flatMap(([k, v]) => ["--var", `${k}:${v}`]);
  return spawnGateway(
    join(root, "node_modules/.bin/wrangler"),
    ["dev", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspector), "--persist-to", state, "--log-level", "warn", ...vars],
    { WRANGLER_SEND_METRICS: "false", CI: "1", NO_COLOR: "1" },
    port,
    readyMs,
    () => rm(state, { recursive: true, force: true }),
  );
}
