/** The demo service `demo.v1.EchoService`: what the README, the status page and the tests call. */
import { Code, ConnectError } from "@connectrpc/connect";
import { EchoService } from "../gen/demo/v1/echo_pb.js";
import type { ServiceImpl } from "../nrpc/typed.js";

/** Max `repeat` a demo call may ask for. */
export const maxRepeat = 10_000;

/**
 * Implementation of EchoService answering as node `nid`. Test hooks, in the request message:
 * `error:<code>:<text>` fails with that status; `sleep:<ms>` waits (honouring cancellation);
 * `header:<k>=<v>` sets a response header and trailer.
 */
export function echoServiceImpl(nid: string): ServiceImpl<typeof EchoService> {
  const hooks = async (message: string, ctx: { signal: AbortSignal; setHeader(md: Map<string, string[]>): void; setTrailer(md: Map<string, string[]>): void }) => {
    if (message.startsWith("error:")) {
      const [, code, ...text] = message.split(":");
      throw new ConnectError(text.join(":") || "demo error", (Number(code) || Code.Unknown) as Code);
    }
    if (message.startsWith("sleep:")) {
      const ms = Math.min(Number(message.slice(6)) || 0, 600_000);
      await new Promise<void>((resolve, reject) => {
        // Cancelled already (its End came in the same batch as the request): an abort listener
        // added now never fires, and the timer would run on for the whole sleep.
        if (ctx.signal.aborted) return reject(ctx.signal.reason);
        const t = setTimeout(resolve, ms);
        ctx.signal.addEventListener("abort", () => {
          clearTimeout(t);
          reject(ctx.signal.reason);
        }, { once: true });
      });
    }
    if (message.startsWith("header:")) {
      const [k, v] = message.slice(7).split("=");
      if (k) {
        ctx.setHeader(new Map([[k.toLowerCase(), [v ?? ""]]]));
        ctx.setTrailer(new Map([[`${k.toLowerCase()}-trailer`, [v ?? ""]]]));
      }
    }
  };
  return {
    async echo(req, ctx) {
      await hooks(req.message, ctx);
      return { message: req.message, node: nid };
    },
    async *echoStream(req, ctx) {
      await hooks(req.message, ctx);
      const n = Math.max(1, Math.min(req.repeat || 1, maxRepeat));
      for (let i = 0; i < n; i++) {
        if (ctx.signal.aborted) return;
        yield { message: req.repeat > 1 ? `${req.message} ${i}` : req.message, node: nid };
      }
    },
    async echoClientStream(reqs, ctx) {
      const parts: string[] = [];
      for await (const r of reqs) {
        await hooks(r.message, ctx);
        parts.push(r.message);
      }
      return { message: parts.join(" "), node: nid };
    },
    async *echoBidi(reqs, ctx) {
      for await (const r of reqs) {
        await hooks(r.message, ctx);
        yield { message: r.message, node: nid };
      }
    },
  };
}
