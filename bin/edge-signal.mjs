#!/usr/bin/env node
// The `edge-signal` command: runs the TypeScript CLI through tsx (a dependency).
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/cli/main.ts");
main(process.argv.slice(2)).catch((e) => {
  process.stderr.write(`edge-signal: ${e?.message ?? e}\n`);
  process.exit(1);
});
