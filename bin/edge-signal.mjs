#!/usr/bin/env node
// The `edge-signal` command: runs the compiled CLI, dist/cli/edge-signal.mjs (one bundle, made by
// `npm run build`; in a checkout, scripts/setup.sh builds it).
import { existsSync } from "node:fs";

const cli = new URL("../dist/cli/edge-signal.mjs", import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write("edge-signal: dist/ is not built: run `npm run build` (or `bash scripts/setup.sh`) in the package folder\n");
  process.exit(1);
}
await import(cli.href);
