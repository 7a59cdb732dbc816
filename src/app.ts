/**
 * The Hono app: the only file that knows every part. Routes RPC paths through the dispatcher to the
 * protocols (Connect, gRPC-Web binary/text, grpc-websockets upgrades), serves /healthz, /readyz, /metrics,
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
import type { CallHandler } from "./protocol/index.js";
import { dispatch, sendRefusal, serveRpc, type RpcServing } from "./protocol/dispatch.js";
import { fromFetchRequest } from "./protocol/universal-fetch.js";
import type { GrpcWebsocketsOptions } from "./protocol-grpc-websockets/session.js";

/**
 * How a runtime upgrades a request to a grpc-websockets session for `handler`, with `options` (the
 * gateway's session options and this peer, built by the app).
 */
export type WebSocketUpgrader = (c: Context, path: string, handler: CallHandler, options: GrpcWebsocketsOptions) => Response | Promise<Response>;

/** What the app is made of. */
export interface AppDeps {
  config: Config;
  director: Director;
  /** How RPCs are dispatched and served (built once by the gateway; the Node gate serves with the same). */
  serving: RpcServing;
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
  /** The runtime cannot read a request body once the response is complete (Workers): see `RequestInfo.drainBodyBeforeEnd`. */
  drainBodyBeforeEnd?: boolean;
  /** Prometheus text (Node: prom-client); default: the runtime-neutral counters. */
  metrics?: () => string | Promise<string>;
  /** Static assets (status page); undefined = not found. */
  assets?: (path: string, c: Context) => Response | undefined | Promise<Response | undefined>;
}

/** Builds the app. */
export function createApp(deps: AppDeps): Hono {
  const { config, serving, log } = deps;
  const handler = serving.context.handler;
  const app = new Hono();
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
  // The dispatcher (src/protocol/dispatch.ts) decides what the request is, as it does for the Node
  // gate; the fetch converter (src/protocol/universal-fetch.ts) puts it on the seam.
  const { highWaterMarkBytes } = serving.context.options;
  const drainBodyBeforeEnd = deps.drainBodyBeforeEnd === true;
  const rpc = async (c: Context, next: Next) => {
    const path = "/" + c.req.param("service") + "/" + c.req.param("method");
    const { request, sink } = fromFetchRequest(
      c.req.raw,
      {
        path,
        get remoteAddress() {
          return deps.remoteAddress?.(c);
        },
        get closed() {
          return deps.transportClosed?.(c);
        },
        drainBodyBeforeEnd,
      },
      highWaterMarkBytes,
    );
    const d = dispatch(request, serving.dispatch);
    if (d.kind === "pass") return next();
    if (d.kind === "refuse") {
      if (d.warn) log.warn(d.warn.msg, d.warn.fields);
      sendRefusal(sink, d.refuse);
      return sink.response;
    }
    const route = d.route;
    if (route.protocol === "grpc-websockets") {
      if (!deps.websocket) return c.text("websockets are not supported on this runtime", 501);
      let h = handler;
      const token = route.token;
      // The call object may be a class with getters: delegate to it rather than copying it.
      if (token) h = (call, res) => handler(Object.create(call, { queryToken: { value: token } }), res);
      return deps.websocket(c, path, h, { ...serving.websocket, remote: { address: deps.remoteAddress?.(c), origin: c.req.header("origin") } });
    }
    // Native gRPC needs HTTP/2 trailers: a fetch Request never says HTTP/2, so it never comes here.
    if (route.protocol === "grpc") return c.text("native gRPC is not served on this runtime", 415);
    serveRpc(route, request, sink, serving.context);
    return sink.response;
  };
  app.on(["POST", "GET"], "/:service/:method", rpc);
  // Other HTTP methods on a path the schemas know: 405 with `Allow` (RFC 9110), as connect-es refuses
  // them; elsewhere they stay not found (the dispatcher passes them).
  app.on(["PUT", "DELETE", "PATCH"], "/:service/:method", rpc);

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
