/**
 * The Cloudflare Workers entry (wrangler.toml `main`). The Worker itself is stateless: it answers
 * `/healthz` and forwards every other request — HTTP calls (Connect, gRPC-Web) and grpc-websockets
 * upgrades alike — to a hub Durable Object ({@link EdgeSignalHub}), which owns the NATS connection
 * and the gateway.
 *
 * Which hub: `EDGE_SIGNAL_HUB_NAME` (default `default`), optionally suffixed per request by
 * `EDGE_SIGNAL_HUB_BY`:
 * - unset: one hub for everything (one NATS connection, one gateway instance);
 * - `continent` / `colo`: one hub per Cloudflare continent / data center the request arrived at
 *   (a Durable Object runs near where it was first used, so each region gets a nearby gateway);
 * - `host`: one hub per Host header (per-tenant hostnames).
 * Each hub is an independent gateway with its own NATS connection; all of them share discovery
 * through NATS, like several Node gateways behind a load balancer.
 *
 * What runs here: Connect (unary, server streaming; client/bidi streaming need HTTP/2 end to end,
 * which Workers do not give to Worker code) , gRPC-Web binary and text, grpc-websockets (all four
 * kinds, bidi included), JWT auth, balancing, /readyz, /metrics (the runtime-neutral text), the
 * status JSON API. Not here: native gRPC (needs HTTP/2 trailers; Node only), Prometheus process
 * metrics, TCP to NATS (NATS_URL must be ws:// or wss://).
 */
import { EdgeSignalHub } from "./hub.js";

export { EdgeSignalHub };

/** The parts of a Durable Object namespace binding the Worker uses. */
interface HubNamespace {
  idFromName(name: string): unknown;
  get(id: unknown): { fetch(req: Request): Promise<Response> };
}

/** The Worker's environment: the hub binding plus vars and secrets (see ../edge-env.ts). */
export interface WorkerEnv {
  EDGE_SIGNAL_HUB: HubNamespace;
  EDGE_SIGNAL_HUB_NAME?: string;
  EDGE_SIGNAL_HUB_BY?: string;
  [key: string]: unknown;
}

/** The hub name for `req` (see the file comment). */
export function hubName(req: Request, env: Pick<WorkerEnv, "EDGE_SIGNAL_HUB_NAME" | "EDGE_SIGNAL_HUB_BY">): string {
  const base = env.EDGE_SIGNAL_HUB_NAME || "default";
  const cf = (req as { cf?: { continent?: string; colo?: string } }).cf;
  switch (env.EDGE_SIGNAL_HUB_BY) {
    case "continent":
      return `${base}:${cf?.continent ?? "unknown"}`;
    case "colo":
      return `${base}:${cf?.colo ?? "unknown"}`;
    case "host":
      return `${base}:${new URL(req.url).host.toLowerCase()}`;
    default:
      return base;
  }
}

/** The Worker. */
export default {
  async fetch(req: Request, env: WorkerEnv): Promise<Response> {
    if (new URL(req.url).pathname === "/healthz") return new Response("ok");
    const ns = env.EDGE_SIGNAL_HUB;
    if (!ns) return new Response("EDGE_SIGNAL_HUB Durable Object binding missing (see wrangler.toml)", { status: 500 });
    return ns.get(ns.idFromName(hubName(req, env))).fetch(req);
  },
};
