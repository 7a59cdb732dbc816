/** Entry point of `npm start` / `node --import tsx src/cli/run.ts <command>`. */
import { main } from "./main.js";

main(process.argv.slice(2)).catch((e: Error) => {
  process.stderr.write(`edge-signal: ${e.message}\n`);
  process.exit(1);
});
