/**
 * The other runtimes' gateways as benchmark targets: the Deno entry (`deno run src/runtime/deno.ts`)
 * and the Workers entry under `wrangler dev` (real workerd: the Worker and its hub Durable Object),
 * started as the runtime suite starts them (test/helpers/runtime-processes.ts), on the bench's NATS over
 * WebSocket (the only transport those runtimes have). CPU is read for the whole process group.
 */
import { startDeno, startWorkerd, type RuntimeProcess } from "../../test/helpers/runtime-processes.js";

/** A runtime's gateway, ready (its /readyz answered 200 and the demo node answers through it). */
export interface RuntimeTarget {
  readonly name: "deno" | "workerd";
  readonly url: string;
  /** Process group id (read with cpuMicrosOfGroup). */
  readonly pgid: number;
  /** Spawn to the first answered call, ms. */
  readonly readyMs: number;
  readonly process: RuntimeProcess;
}

/** Starts `name`'s gateway on `natsWsUrl`; `probe` makes one call and says whether it was answered right. */
export async function startRuntime(name: "deno" | "workerd", natsWsUrl: string, probe: (url: string) => Promise<boolean>): Promise<RuntimeTarget> {
  const t0 = performance.now();
  const env = { NATS_URL: natsWsUrl, EDGE_SIGNAL_LOG_LEVEL: "warn" };
  const p = name === "deno" ? await startDeno(env) : await startWorkerd(env);
  // /readyz says discovery synced; the first call may still race the demo node's arrival in its table.
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (await probe(p.url).catch(() => false)) break;
    if (Date.now() > deadline) {
      await p.stop();
      throw new Error(`${name}: no good answer from the demo node in 30 s:\n${p.output().slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { name, url: p.url, pgid: p.pid, readyMs: performance.now() - t0, process: p };
}
