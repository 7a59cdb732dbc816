#!/usr/bin/env node
/**
 * `npm run size:worker`: bundles the Cloudflare Worker the way wrangler does (esbuild, platform
 * browser, conditions workerd/worker/browser, ESM, minified, wrangler.toml's `alias` and
 * `keep_names`) and reports its gzipped size against the budget, with what dominates it (esbuild
 * metafile, per package).
 *
 * It is also the runtime-neutral core check: the Worker and Deno entries (and so everything
 * reachable from src/gateway.ts) must not import Node built-ins (`node:*`, `fs`, `buffer`, ...) nor
 * use Node globals (Buffer, process, __dirname, require, setImmediate) in our sources. Either fails
 * the build (exit 1).
 *
 *   node scripts/worker-size.mjs [--budget-kib 1024] [--metafile out.json] [--top 20]
 */
import { builtinModules } from "node:module";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import * as esbuild from "esbuild";
import { parse as parseToml } from "smol-toml";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * Budget of the gzipped Worker, in KiB. Workers accept several MiB (the free plan 3 MiB gzipped);
 * 1 MiB leaves room for the JetStream KV client (sticky placement shared with Node gateways, ~23 KiB
 * gzip) and catches a dependency that brings in something big by mistake.
 */
export const workerBudgetKiB = 1024;

const builtins = new Set(builtinModules.flatMap((m) => [m, m.split("/")[0]]));

/**
 * Imports that are allowed although they name a Node built-in: tweetnacl's `require("crypto")` is
 * only reached when `self.crypto` is missing (never on Workers, Deno or browsers), and its
 * package.json `browser` field maps it to an empty module.
 */
const allowedBuiltinImports = [{ importer: /node_modules\/tweetnacl\//, path: "crypto" }];

/** An esbuild plugin failing the build on any Node built-in import. */
function noNodeBuiltins() {
  return {
    name: "no-node-builtins",
    setup(build) {
      build.onResolve({ filter: /.*/ }, (args) => {
        const p = args.path;
        const isBuiltin = p.startsWith("node:") || builtins.has(p) || builtins.has(p.split("/")[0]);
        if (!isBuiltin || p.startsWith(".") || p.startsWith("/")) return undefined;
        if (allowedBuiltinImports.some((a) => a.path === p && a.importer.test(args.importer))) return undefined;
        return { errors: [{ text: `Node built-in "${p}" imported by ${relative(root, args.importer)}: runtime-neutral code must use Web APIs only (move Node-only code behind src/runtime/node/index.ts)` }] };
      });
    },
  };
}

const nodeGlobals = [
  [/(?<![\w$.])Buffer\b/, "Buffer"],
  [/(?<![\w$.])process\s*\./, "process"],
  [/(?<![\w$.])__dirname\b|(?<![\w$.])__filename\b/, "__dirname/__filename"],
  [/(?<![\w$.])require\s*\(/, "require()"],
  [/(?<![\w$.])setImmediate\s*\(/, "setImmediate"],
  [/(?<![\w$.])global\s*\./, "global"],
];

/** Our source files in the bundle that use Node globals (comments ignored). */
export function nodeGlobalUses(metafile) {
  const problems = [];
  for (const input of Object.keys(metafile.inputs)) {
    if (!input.startsWith("src/") || input.startsWith("src/gen/")) continue;
    const text = readFileSync(join(root, input), "utf8")
      .replace(/\/\*[\s\S]*?\*\//g, "")
      .replace(/(^|[^:])\/\/.*$/gm, "$1");
    for (const [re, name] of nodeGlobals) if (re.test(text)) problems.push(`${input} uses the Node global ${name}`);
  }
  return problems;
}

/** wrangler.toml's build-relevant fields. */
function wranglerConfig() {
  const toml = parseToml(readFileSync(join(root, "wrangler.toml"), "utf8"));
  const alias = {};
  for (const [k, v] of Object.entries(toml.alias ?? {})) alias[k] = String(v).startsWith(".") ? join(root, String(v)) : String(v);
  return { main: String(toml.main), alias, keepNames: toml.keep_names ?? true, minify: toml.minify ?? false };
}

/**
 * Builds `entry` as wrangler builds the Worker (in memory). Resolves to the bundle, its gzipped
 * size, the metafile and the problems found (Node built-ins fail the esbuild build and are
 * reported as problems; Node globals in our sources too).
 * @param {{ entry?: string, alias?: boolean }} [opts] entry default: wrangler.toml `main`
 */
export async function buildWorker(opts = {}) {
  const cfg = wranglerConfig();
  const entry = opts.entry ?? cfg.main;
  let result;
  try {
    result = await esbuild.build({
      absWorkingDir: root,
      entryPoints: [entry],
      bundle: true,
      write: false,
      outfile: join(root, "dist/worker-size/worker.js"),
      format: "esm",
      platform: "browser",
      conditions: ["workerd", "worker", "browser"],
      target: "es2022",
      minify: true,
      keepNames: cfg.keepNames,
      alias: opts.alias === false ? {} : cfg.alias,
      metafile: true,
      logLevel: "silent",
      plugins: [noNodeBuiltins()],
    });
  } catch (e) {
    const errors = (e.errors ?? []).map((m) => (m.location ? `${m.location.file}:${m.location.line}: ` : "") + m.text);
    return { entry, ok: false, problems: errors.length ? errors : [String(e)] };
  }
  const js = result.outputFiles.find((f) => f.path.endsWith(".js")).contents;
  const problems = nodeGlobalUses(result.metafile);
  return { entry, ok: problems.length === 0, problems, bytes: js.length, gzipBytes: gzipSync(js, { level: 9 }).length, metafile: result.metafile };
}

/** Bytes in the output per package (node_modules/<pkg>) or per source folder. */
export function sizeByPackage(metafile) {
  const out = Object.values(metafile.outputs)[0];
  const by = new Map();
  for (const [file, v] of Object.entries(out.inputs)) {
    const parts = file.split("/");
    const key = file.startsWith("node_modules/") ? parts.slice(0, parts[1].startsWith("@") ? 3 : 2).join("/").slice(13) : parts.length <= 2 ? file : parts.slice(0, 2).join("/");
    by.set(key, (by.get(key) ?? 0) + v.bytesInOutput);
  }
  return [...by].sort((a, b) => b[1] - a[1]);
}

async function main() {
  const args = process.argv.slice(2);
  const arg = (name, dflt) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : dflt;
  };
  const budget = Number(arg("--budget-kib", workerBudgetKiB));
  const top = Number(arg("--top", 20));
  const kib = (n) => (n / 1024).toFixed(1) + " KiB";

  const worker = await buildWorker();
  const deno = await buildWorker({ entry: "src/runtime/deno/index.ts", alias: false });
  let failed = false;
  for (const r of [worker, deno]) {
    if (!r.ok) {
      failed = true;
      console.error(`✘ ${r.entry} is not runtime-neutral:\n  ${r.problems.join("\n  ")}`);
    }
  }
  if (!worker.metafile) process.exit(1);
  console.log(`runtime-neutral: ${worker.ok ? "ok" : "NO"} (${worker.entry}), ${deno.ok ? "ok" : "NO"} (${deno.entry}): no Node built-ins, no Node globals`);
  console.log(`Worker bundle (${worker.entry}, minified): ${kib(worker.bytes)}, gzip ${kib(worker.gzipBytes)} (budget ${budget} KiB)`);
  console.log(`\nlargest parts (minified bytes in the bundle, before gzip):`);
  for (const [name, bytes] of sizeByPackage(worker.metafile).slice(0, top)) {
    console.log(`  ${kib(bytes).padStart(10)}  ${((100 * bytes) / worker.bytes).toFixed(1).padStart(5)}%  ${name}`);
  }
  const metaOut = arg("--metafile");
  if (metaOut) {
    writeFileSync(metaOut, JSON.stringify(worker.metafile));
    console.log(`\nmetafile written to ${metaOut} (https://esbuild.github.io/analyze/)`);
  }
  if (worker.gzipBytes > budget * 1024) {
    failed = true;
    console.error(`\n✘ over budget: ${kib(worker.gzipBytes)} > ${budget} KiB`);
  }
  process.exit(failed ? 1 : 0);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
