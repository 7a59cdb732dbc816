#!/usr/bin/env node
/**
 * `npm run build`: compiles src/ into dist/ — the JavaScript the package runs and ships. Node only
 * (build time).
 *
 *   1. every src/**\/*.ts → dist/**\/*.js, one file each (esbuild, no bundling: the library entries of
 *      package.json `exports`; import paths already end in `.js`);
 *   2. the `edge-signal` command as one bundle, dist/cli/edge-signal.mjs (esbuild, dependencies
 *      inlined): 110 ms to import against 400–490 ms for the same CLI as 136 files plus its
 *      dependencies' files (measured with `await import()` on a quiet machine; `serve` to /readyz:
 *      `node --import tsx bench/serve-startup.ts`);
 *   3. declaration files, dist/**\/*.d.ts (`tsc -p tsconfig.build.json`, which type-checks src/).
 *
 *   node scripts/build.mjs [--no-declarations] [--quiet]
 *
 * `--no-declarations` skips step 3 (scripts/setup.sh, before `npm start`/`npm test`: the tests run
 * the JavaScript, and the type check is `tsc --noEmit -p .`); `npm pack` runs the whole build
 * (`prepack`). Needs the generated code in src/gen (`bash scripts/setup.sh`).
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = new Set(process.argv.slice(2));
const quiet = args.has("--quiet");
const say = (msg) => quiet || process.stderr.write(`build: ${msg}\n`);

if (!existsSync(join(root, "src/gen"))) {
  process.stderr.write("build: src/gen is missing: run `bash scripts/setup.sh` (or `npm run generate`) first\n");
  process.exit(1);
}

/** Every .ts file under `dir`, declaration files excepted. */
function sources(dir) {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts") && !e.name.endsWith(".d.ts"))
    .map((e) => join(e.parentPath ?? e.path, e.name));
}

const t0 = performance.now();
const dist = join(root, "dist");
rmSync(dist, { recursive: true, force: true });

const entries = sources(join(root, "src"));
await esbuild.build({
  entryPoints: entries,
  outdir: dist,
  outbase: join(root, "src"),
  format: "esm",
  platform: "node",
  target: "node20",
  logLevel: "warning",
});
say(`${entries.length} modules → dist/`);

await esbuild.build({
  entryPoints: [join(root, "src/cli/run.ts")],
  outfile: join(dist, "cli/edge-signal.mjs"),
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  // CommonJS dependencies (prom-client, ws) call require(); an ESM bundle has none of its own.
  banner: { js: 'import { createRequire as __edgeSignalRequire } from "node:module"; const require = __edgeSignalRequire(import.meta.url);' },
  logLevel: "warning",
});
say("the edge-signal command → dist/cli/edge-signal.mjs");

if (!args.has("--no-declarations")) {
  execFileSync(join(root, "node_modules/.bin/tsc"), ["-p", join(root, "tsconfig.build.json")], { stdio: "inherit" });
  say("declarations → dist/**/*.d.ts");
}
writeFileSync(join(dist, ".built"), args.has("--no-declarations") ? "js\n" : "js+d.ts\n");
say(`done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
