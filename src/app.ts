/**
 * The Hono app: the only file that knows every part. Routes RPC paths to the protocol adapters
 * (Connect, gRPC-Web binary/text, grpc-websockets upgrades), serves /healthz, /readyz, /metrics,
 * the status page's JSON API and its assets. Runtime-neutral: runtimes plug in the WebSocket
 * upgrade, the client address, Prometheus text and static assets.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { Hono, type Context, type Next } from "hono";
import type { Authenticator } from "./auth/index.js";
import type { Balancer } from "./balancer/index.js";
import type { Config } from "./config/index.js";
import { cors, type CorsOptions } from "./cors/index.js";
import type { Director } from "./director/index.js";
import type { NodeTable } from "./discovery/index.js";
import type { CallStats } from "./observability/call-stats.js";
import { metricsRefusal, metricsRequestAllowed } from "./observability/metrics-access.js";
import type { RoomRow } from "./observability/live-rooms.js";
import type { Logger } from "./observability/logger.js";
import { allowedHttpMethods, type CallHandler, type ProtocolOptions } from "./protocol/index.js";
import { defaultPort, parseOrigin } from "./protocol/origin.js";
import { handleConnect } from "./protocol-connect/index.js";
import { handleGrpcWeb } from "./protocol-grpc-web/index.js";
import { checkWebSocketOrigin, isGrpcWebsocketsUpgrade } from "./protocol-grpc-websockets/index.js";

/** How a runtime upgrades a request to a grpc-websockets session for `handler`. */
export type WebSocketUpgrader = (c: Context, path: string, handler: CallHandler) => Response | Promise<Response>;

/** What the app is made of. */
export interface AppDeps {
  config: Config;
  director: Director;
  /** The call handler adapters use: the Director behind the connection limits. */
  handler: CallHandler;
  protocol: ProtocolOptions;
  table: NodeTable;
  stats: CallStats;
  /** Live rooms across gateways (`/api/rooms`). */
  rooms?: () => Promise<{ rooms: RoomRow[]; gateways: number }>;
  auth: Authenticator;
  balancer: Balancer;
  log: Logger;
  /** This gateway's node id. */
  nid: string;
  ready(): boolean;
  natsConnected(): boolean;
  websocket?: WebSocketUpgrader;
  /** The client's address, as the runtime knows it (per-IP limits, logs). */
  remoteAddress?: (c: Context) => string | undefined;
  /** Settles when the runtime's transport is done with the request (Node: its response closed): call limits count the call until then. */
  transportClosed?: (c: Context) => Promise<void> | undefined;
  /** Prometheus text (Node: prom-client); default: the runtime-neutral counters. */
  metrics?: () => string | Promise<string>;
  /** Static assets (status page); undefined = not found. */
  assets?: (path: string, c: Context) => Response | undefined | Promise<Response | undefined>;
}

/** Builds the app. */
export function createApp(deps: AppDeps): Hono {
  const { config, handler, protocol, log } = deps;
  const app = new Hono();
  const origins = allowedOrigins(config);
  app.use("*", cors(appCorsOptions(config)));

  app.get("/healthz", (c) => c.text("ok"));
  app.get("/readyz", (c) => (deps.ready() ? c.text("ready") : c.text("not ready", 503)));
  app.get("/metrics", async (c) => {
    // Served on its own listener instead (Node), or wanting the metrics token: see SECURITY.md.
    if (config.metricsListen !== "") return c.notFound();
    if (!metricsRequestAllowed(c.req.header("authorization"), config.metricsToken)) return metricsRefusal();
    const text = deps.metrics ? await deps.metrics() : neutralMetrics(deps);
    return c.body(text, 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
  });

  // The status page's JSON API. Protected when auth is on: a token whose `services` allow `edge`.
  const guard = async (c: Context): Promise<Response | undefined> => {
    if (!deps.auth.enabled) return undefined;
    try {
      const md = new Map<string, string[]>();
      const h = c.req.header("authorization");
      if (h) md.set("authorization", [h]);
      await deps.auth.authenticate({ metadata: md, service: "edge.Status", method: "Read", path: "/edge.Status/Read" });
      return undefined;
    } catch (e) {
      const err = e instanceof ConnectError ? e : new ConnectError("unauthenticated", Code.Unauthenticated);
      return c.json({ code: err.code, message: err.rawMessage }, err.code === Code.PermissionDenied ? 403 : 401);
    }
  };
  app.get("/api/nodes", async (c) => {
    const denied = await guard(c);
    if (denied) return denied;
    const now = Date.now();
    const services: Record<string, unknown[]> = {};
    for (const n of deps.table.nodes("*")) {
      (services[n.service] ??= []).push({
        nid: n.nid,
        dc: n.dc,
        source: n.source,
        lastSeenMsAgo: Math.max(0, now - n.lastSeen),
        load: typeof n.extraInfo.load === "number" ? n.extraInfo.load : undefined,
        inFlight: deps.balancer.inFlight(n.nid),
        ejected: deps.balancer.isEjected(n.nid),
      });
    }
    return c.json({ gateway: deps.nid, services });
  });
  app.get("/api/rooms", async (c) => {
    const denied = await guard(c);
    if (denied) return denied;
    let r: { rooms: RoomRow[]; gateways: number };
    try {
      r = deps.rooms ? await deps.rooms() : { rooms: [], gateways: 0 };
    } catch (e) {
      return c.json({ code: Code.Unavailable, message: `rooms could not be gathered over NATS: ${e instanceof Error ? e.message : String(e)}` }, 503);
    }
    const now = Date.now();
    return c.json({ gateway: deps.nid, gateways: r.gateways, rooms: r.rooms.map((x) => ({ ...x, sinceMsAgo: Math.max(0, now - x.since) })) });
  });
  app.get("/api/stats", async (c) => {
    const denied = await guard(c);
    if (denied) return denied;
    return c.json({ gateway: deps.nid, inFlight: deps.stats.inFlight, services: deps.stats.services() });
  });

  // RPCs: `/<pkg.Service>/<Method>`. The Director validates the path before any subject is built.
  // The Node entry serves plain Connect unary and gRPC-Web POSTs without the app
  // (src/runtime/node/fast-path.ts), with the same origin check, CORS and adapters: keep the two in step.
  const rpc = async (c: Context, next: Next) => {
    const req = c.req.raw;
    const path = "/" + c.req.param("service") + "/" + c.req.param("method");
    // A plain GET without Connect's `message` parameter is a static asset (`/vendor/x.js`), not an RPC,
    // unless the schemas know the path's service (then it is a Connect GET of an empty message).
    if (deps.assets && req.method === "GET" && !isGrpcWebsocketsUpgrade(req) && !new URL(req.url).searchParams.has("message") && protocol.methods?.(path) === undefined) return next();
    if (isGrpcWebsocketsUpgrade(req)) {
      const origin = req.headers.get("origin");
      // Pages the gateway serves itself (status page, examples) are same-origin: allowed, as Go's default check.
      if (!checkWebSocketOrigin(origin, origins) && !isSameOrigin(origin, req)) {
        log.warn("websocket origin refused", { origin });
        return c.text("origin not allowed", 403);
      }
      if (!deps.websocket) return c.text("websockets are not supported on this runtime", 501);
      let h = handler;
      const token = new URL(req.url).searchParams.get("token");
      // The call object may be a class with getters: delegate to it rather than copying it.
      if (token) h = (call, res) => handler(Object.create(call, { queryToken: { value: token } }), res);
      return deps.websocket(c, path, h);
    }
    // CORS only hides a response from the page: a cross-site "simple" request (a Connect GET needs no
    // preflight) would still run the call, with the browser's cookies. An Origin that is neither
    // allowed nor this host's is refused before any call starts, as for WebSockets.
    const origin = req.headers.get("origin");
    if (!checkWebSocketOrigin(origin, origins) && !isSameOrigin(origin, req)) {
      log.warn("origin refused", { origin, path });
      return c.text("origin not allowed", 403);
    }
    const info = { path, remoteAddress: deps.remoteAddress?.(c), closed: deps.transportClosed?.(c) };
    const ct = req.headers.get("content-type") ?? "";
    if (ct.startsWith("application/grpc-web")) return handleGrpcWeb(req, handler, protocol, info);
    return handleConnect(req, handler, protocol, info);
  };
  app.on(["POST", "GET"], "/:service/:method", rpc);
  // Other HTTP methods on a path the schemas know: 405 with `Allow` (RFC 9110), as connect-es refuses
  // them; elsewhere they stay not found.
  app.on(["PUT", "DELETE", "PATCH"], "/:service/:method", (c, next) => {
    const spec = protocol.methods?.("/" + c.req.param("service") + "/" + c.req.param("method"));
    if (spec == null) return next();
    return c.body(null, 405, { allow: allowedHttpMethods(spec) });
  });

  if (deps.assets) {
    app.get("*", async (c) => (await deps.assets!(c.req.path, c)) ?? c.notFound());
  }
  return app;
}

/** The origin allow-list of CORS and of the RPC and WebSocket origin checks. */
export function allowedOrigins(config: Config): readonly string[] | "*" {
  return config.allowedOrigins.includes("*") ? "*" : config.allowedOrigins;
}

/**
 * The app's CORS options. Metadata names are the app's (x-room, x-session, ...): a preflight from an
 * allowed origin gets whatever headers it asks for, besides the protocol ones.
 */
export function appCorsOptions(config: Config): CorsOptions {
  return { allowOrigins: allowedOrigins(config), allowHeaders: "*" };
}

/**
 * True when the page's `Origin` parses (scheme://host[:port], nothing more) and names the host the
 * request was sent to (`Host`). A malformed Origin is never same-origin.
 */
function isSameOrigin(origin: string | null, req: Request): boolean {
  const o = origin ? parseOrigin(origin) : undefined;
  if (!o) return false;
  let host = req.headers.get("host");
  if (host === null) {
    try {
      host = new URL(req.url).host;
    } catch {
      return false;
    }
  }
  const authority = o.host + (o.port ? ":" + o.port : "");
  return authority === host.toLowerCase() || authority + ":" + defaultPort(o.scheme) === host.toLowerCase();
}

/** Prometheus text from the runtime-neutral counters (edge runtimes). */
export function neutralMetrics(deps: Pick<AppDeps, "stats" | "table" | "natsConnected">): string {
  const s = deps.stats;
  const lines: string[] = [
    "# TYPE edge_signal_calls_total counter",
  ];
  for (const [k, v] of s.calls) {
    const [service, method, protocol, code] = k.split("|");
    lines.push(`edge_signal_calls_total{service="${service}",method="${method}",protocol="${protocol}",code="${code}"} ${v}`);
  }
  lines.push("# TYPE edge_signal_calls_in_flight gauge", `edge_signal_calls_in_flight ${s.inFlight}`);
  lines.push("# TYPE edge_signal_bytes_in_total counter", `edge_signal_bytes_in_total ${s.bytesIn}`);
  lines.push("# TYPE edge_signal_bytes_out_total counter", `edge_signal_bytes_out_total ${s.bytesOut}`);
  lines.push("# TYPE edge_signal_auth_failures_total counter");
  for (const [reason, v] of s.authFailures) lines.push(`edge_signal_auth_failures_total{reason="${reason}"} ${v}`);
  lines.push("# TYPE edge_signal_nats_connected gauge", `edge_signal_nats_connected ${deps.natsConnected() ? 1 : 0}`);
  lines.push("# TYPE edge_signal_discovery_nodes gauge");
  const counts = new Map<string, number>();
  for (const n of deps.table.nodes("*")) counts.set(n.service, (counts.get(n.service) ?? 0) + 1);
  for (const [service, n] of counts) lines.push(`edge_signal_discovery_nodes{service="${service}"} ${n}`);
  return lines.join("\n") + "\n";
}
