/**
 * tsconfig.neutral.json: every runtime-neutral file (all of src/ but src/runtime/node/ and src/cli/)
 * type-checks without Node's types and with the worker libs, and the check is
 * shown to refuse Node globals and node: imports (no Node types leak in through a dependency).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
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
