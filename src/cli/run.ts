/** The `edge-signal` command's entry: bundled into dist/cli/edge-signal.mjs (scripts/build.mjs), which bin/edge-signal.mjs runs. */
import { main } from "./main.js";

main(process.argv.slice(2)).catch((e: Error) => {
  process.stderr.write(`edge-signal: ${e.message}\n`);
  process.exit(1);
});
