/** The runtime suite on Deno: `deno run -A src/runtime/deno.ts` as a child process on the stack's NATS. */
import { startDeno } from "./processes.js";
import { runtimeSuite } from "./suite.js";

runtimeSuite("Deno (deno run src/runtime/deno.ts)", async (_stack, env) => startDeno(env));
