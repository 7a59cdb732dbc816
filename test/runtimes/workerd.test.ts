/**
 * The runtime suite on Cloudflare Workers: `wrangler dev` runs the Worker and its hub Durable Object
 * (wrangler.toml) in real workerd, NATS over the Worker's outbound WebSocket.
 */
import { startWorkerd } from "./processes.js";
import { runtimeSuite } from "./suite.js";

runtimeSuite("Cloudflare Workers (wrangler dev, workerd)", async (_stack, env) => startWorkerd(env));
