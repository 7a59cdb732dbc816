/**
 * How long `edge-signal serve` takes from process start to a 200 on /readyz, against a local
 * nats-server (started here). Prints one line per run and the median. Node only; run with
 *
 *   node --import tsx bench/serve-startup.ts [--runs 5] [--bin bin/edge-signal.mjs] [--tsx]
 *
 * `--bin` picks the command file (default: this checkout's bin, which runs dist/); `--tsx` runs the
 * TypeScript sources through tsx instead (`node --import tsx src/cli/run.ts`), the pre-build way.
 */
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { freePort, startNatsServer } from "../src/cli/nats-server.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values } = parseArgs({ options: { runs: { type: "string" }, bin: { type: "string" }, tsx: { type: "boolean" } } });
const runs = Number(values.runs ?? 5);
const entry = values.tsx ? ["--import", "tsx", join(root, "src/cli/run.ts")] : [join(root, values.bin ?? "bin/edge-signal.mjs")];

/** Starts `serve` once and resolves with the ms from spawn to the first 200 on /readyz (deadline 30 s). */
async function once(natsUrl: string): Promise<number> {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(process.execPath, [...entry, "serve", "--nats", natsUrl, "--port", String(port), "--host", "127.0.0.1"], {
    cwd: root,
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, EDGE_SIGNAL_LOG_LEVEL: "warn" },
  });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  const exited = new Promise<never>((_, reject) => child.once("exit", (code) => reject(new Error(`serve exited ${code}: ${stderr}`))));
  exited.catch(() => {});
  try {
    for (;;) {
      if (performance.now() - t0 > 30_000) throw new Error(`no /readyz within 30 s: ${stderr}`);
      const ok = await Promise.race([
        fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false),
        exited,
      ]);
      if (ok) return performance.now() - t0;
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    const gone = new Promise((r) => child.once("exit", r));
    if (child.exitCode === null) child.kill("SIGTERM");
    await gone;
  }
}

const nats = await startNatsServer();
try {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const ms = await once(nats.url);
    times.push(ms);
    console.log(`run ${i + 1}: ${ms.toFixed(0)} ms to /readyz`);
  }
  times.sort((a, b) => a - b);
  console.log(`serve → /readyz (${values.tsx ? "tsx, sources" : entry.at(-1)!.slice(root.length + 1)}): median ${times[Math.floor(times.length / 2)]!.toFixed(0)} ms of ${runs} runs, min ${times[0]!.toFixed(0)} ms`);
} finally {
  await nats.stop();
}
