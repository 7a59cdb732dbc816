/**
 * The runtime-neutral core: the Worker and Deno entries (everything reachable from src/gateway.ts)
 * bundle for workerd/browsers with no Node built-in and no Node global, and the Worker stays within
 * its gzip budget; every runtime-neutral file type-checks without Node's types (tsconfig.neutral.json).
 * Each check is shown to catch Node-only code.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Metafile } from "esbuild";
import { buildWorker, nodeGlobalUses, workerBudgetKiB } from "../../scripts/worker-size.mjs";

test("the Worker entry bundles without Node built-ins or globals, within the gzip budget", { timeout: 120_000 }, async () => {
  const r = await buildWorker();
  assert.deepEqual(r.problems, []);
  assert.ok(r.ok);
  const inputs = Object.keys(r.metafile!.inputs);
  assert.ok(inputs.includes("src/gateway.ts"), "the gateway is in the Worker");
  assert.ok(!inputs.some((f) => f.includes("prom-client") || f.includes("@hono/node-server") || f.includes("src/protocol-grpc/") || f.startsWith("src/runtime/node/")), "Node-only parts stay out");
  assert.ok(inputs.some((f) => f.startsWith("node_modules/@nats-io/jetstream/")) && inputs.some((f) => f.startsWith("node_modules/@nats-io/kv/")), "the JetStream KV client is in (sticky placement shared with Node gateways)");
  assert.ok(r.gzipBytes! < workerBudgetKiB * 1024, `gzip ${(r.gzipBytes! / 1024).toFixed(1)} KiB > ${workerBudgetKiB} KiB`);
});

test("the Deno entry is runtime-neutral too", { timeout: 120_000 }, async () => {
  const r = await buildWorker({ entry: "src/runtime/deno/index.ts", alias: false });
  assert.deepEqual(r.problems, []);
});

test("the check refuses Node-only code: built-ins in the bundle, Node globals in our sources", { timeout: 120_000 }, async () => {
  const r = await buildWorker({ entry: "src/runtime/node/index.ts", alias: false });
  assert.equal(r.ok, false);
  assert.ok(r.problems.some((p) => /Node built-in "(node:)?(fs\/promises|http|http2|path)"/.test(p)), r.problems.join("\n"));
  const uses = nodeGlobalUses({ inputs: { "src/cli/main.ts": {} } } as unknown as Metafile);
  assert.ok(uses.some((u) => u.includes("process")), uses.join("\n"));
  assert.deepEqual(nodeGlobalUses({ inputs: { "src/gateway.ts": {}, "src/protocol/envelope.ts": {} } } as unknown as Metafile), []);
});

const root = fileURLToPath(new URL("../..", import.meta.url));
const tsc = join(root, "node_modules/.bin/tsc");

/** Runs tsc with `args` in the package root: its exit code and output. */
function runTsc(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(tsc, args, { cwd: root, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr });
    });
  });
}

test("every runtime-neutral file type-checks without Node's types (tsconfig.neutral.json)", { timeout: 300_000 }, async () => {
  const r = await runTsc(["--noEmit", "-p", "tsconfig.neutral.json"]);
  assert.equal(r.code, 0, r.out);
});

test("the neutral type check refuses Node globals and node: imports (no Node types leak in through a dependency)", { timeout: 300_000 }, async () => {
  const dir = await mkdtemp(join(root, "src", ".neutral-check-"));
  try {
    await writeFile(join(dir, "uses-node.ts"), 'import { readFile } from "node:fs/promises";\nexport const pid: number = process.pid;\nexport const b = Buffer.from("x");\nexport { readFile };\n');
    await writeFile(join(dir, "tsconfig.json"), JSON.stringify({ extends: "../../tsconfig.neutral.json", include: ["uses-node.ts"], exclude: [] }));
    const r = await runTsc(["--noEmit", "-p", join(dir, "tsconfig.json")]);
    assert.notEqual(r.code, 0, "the check passed Node-only code");
    for (const name of ["node:fs/promises", "process", "Buffer"]) assert.ok(r.out.includes(name), `${name} not refused:\n${r.out}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
