/** The runtime suite on Deno: `deno run -A src/runtime/deno/index.ts` as a child process on the stack's NATS. */
import { startDeno } from "../../helpers/runtime-processes.js";
import { runtimeSuite } from "./suite.js";

runtimeSuite("Deno (deno run src/runtime/deno/index.ts)", async (_stack, env) => startDeno(env));
