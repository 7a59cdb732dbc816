/**
 * The one dispatcher: for any runtime, what a request on the seam (src/protocol/universal.ts) is —
 * not an RPC (the runtime's other routes: static files, 404), refused (origin, HTTP method, content
 * type, unknown method), or an RPC of one protocol (Connect unary / GET / streaming, gRPC-Web binary /
 * text, native gRPC, a grpc-websockets upgrade) with its method's kind from the schemas. The Hono
 * app and the Node gate both ask it; {@link serveRpc} then serves every protocol but the
 * WebSocket upgrade, which the runtime does. Runtime-neutral.
 */
import { classifyConnect } from "../protocol-connect/route.js";
import type { ConnectOptions } from "../protocol-connect/options.js";
import { serveConnect } from "../protocol-connect/handler.js";
import { isGrpcContentType } from "../protocol-grpc/content-type.js";
import { serveGrpc } from "../protocol-grpc/handler.js";
import type { GrpcWebContentType } from "../protocol-grpc-web/content-type.js";
import { serveGrpcWeb } from "../protocol-grpc-web/handler.js";
import { classifyGrpcWeb } from "../protocol-grpc-web/route.js";
import type { GrpcWebsocketsOptions } from "../protocol-grpc-websockets/session.js";
import { checkWebSocketOrigin, isGrpcWebsocketsUpgrade } from "../protocol-grpc-websockets/upgrade.js";
import { allowedHttpMethods, type MethodSpec, type MethodSpecLookup } from "./method-spec.js";
import type { ServeContext } from "./options.js";
import { defaultPort, parseOrigin } from "./origin.js";
import { refusal, sendRefusal, textRefusal, type Refusal } from "./refusal.js";
import type { UniversalRequest, UniversalResponseSink } from "./universal.js";

/** What the dispatcher knows of the gateway. */
export interface DispatchOptions {
  /** The origin allow-list of RPCs and WebSocket upgrades (`*`: any). A page of the gateway's own host is always allowed. */
  readonly origins: readonly string[] | "*";
  /** The methods the gateway has schemas for (strict rules; see `MethodSpecLookup`). */
  readonly methods: MethodSpecLookup | undefined;
  /** Connect GET: true (default), false, or per path. */
  readonly allowGet?: ConnectOptions["allowGet"];
  /**
   * The runtime serves static files: a GET without Connect's `message` parameter to a path whose
   * service no schema knows is a file (`/vendor/x.js`), not an RPC.
   */
  readonly assets: boolean;
}

/**
 * What serving RPCs takes, built once by the gateway (src/gateway.ts) for every runtime entry: the
 * dispatcher's options and the protocols' context. The Hono app, the Node gate and the Node one-port
 * server serve with this one object, so they cannot disagree on an origin, a limit or a schema.
 */
export interface RpcServing {
  readonly dispatch: DispatchOptions;
  /** The call handler (the Director behind the call limits) and the resolved protocol options. */
  readonly context: ServeContext;
  /** A grpc-websockets session's options (limits, header frame wait); the app adds each upgrade's `remote`. */
  readonly websocket: Omit<GrpcWebsocketsOptions, "remote">;
}

/** An RPC, by protocol, with its method's schema when the gateway has one. */
export type RpcRoute =
  | { readonly protocol: "connect"; readonly mode: "unary" | "get" | "stream"; readonly json: boolean; readonly spec: MethodSpec | undefined }
  | { readonly protocol: "grpc-web"; readonly contentType: GrpcWebContentType; readonly spec: MethodSpec | undefined }
  /** Native gRPC over HTTP/2 (the runtime serves it: it needs HTTP/2 trailers). */
  | { readonly protocol: "grpc" }
  /** A grpc-websockets upgrade (the runtime upgrades); `token` from the URL's `token` parameter. */
  | { readonly protocol: "grpc-websockets"; readonly token: string | undefined };

/** What the dispatcher decided. */
export type Dispatch =
  /** Not an RPC: the runtime's other routes. */
  | { readonly kind: "pass" }
  /** Answered at once; `warn`: a refusal worth a log line (an origin refused), with its fields. */
  | { readonly kind: "refuse"; readonly refuse: Refusal; readonly warn?: { readonly msg: string; readonly fields: Record<string, unknown> } }
  | { readonly kind: "rpc"; readonly route: RpcRoute };

const pass: Dispatch = { kind: "pass" };

/**
 * Dispatches `req`, whose `path` is the method path the runtime's router found (`/pkg.Service/Method`;
 * the Node gate takes only targets that `isRpcPath` accepts). In order: native gRPC over HTTP/2 (any
 * path, as before: the Director validates it); methods other than GET, HEAD and POST (405 with `Allow`
 * on a path the schemas know, else not an RPC); a grpc-websockets upgrade (origin checked); a GET that
 * is a static file; the origin (403); gRPC-Web by its content type prefix; else Connect.
 */
export function dispatch(req: UniversalRequest, o: DispatchOptions): Dispatch {
  const { method, headers } = req;
  const contentType = headers.get("content-type");
  if (req.httpVersion === "2.0" && isGrpcContentType(contentType)) return { kind: "rpc", route: { protocol: "grpc" } };
  const spec = o.methods?.(req.path);
  if (method !== "POST" && method !== "GET" && method !== "HEAD") {
    return spec == null ? pass : { kind: "refuse", refuse: refusal(405, { allow: allowedHttpMethods(spec) }) };
  }
  if (isGrpcWebsocketsUpgrade(req)) {
    const origin = headers.get("origin");
    // Pages the gateway serves itself (status page, examples) are same-origin: allowed, as Go's default check.
    if (!checkWebSocketOrigin(origin, o.origins) && !isSameOrigin(origin, req.authority)) {
      return { kind: "refuse", refuse: textRefusal(403, "origin not allowed"), warn: { msg: "websocket origin refused", fields: { origin } } };
    }
    const token = req.search === "" ? null : new URLSearchParams(req.search).get("token");
    return { kind: "rpc", route: { protocol: "grpc-websockets", token: token || undefined } };
  }
  // A plain GET without Connect's `message` parameter is a static asset (`/vendor/x.js`), not an RPC,
  // unless the schemas know the path's service (then it is a Connect GET of an empty message).
  if (o.assets && method === "GET" && spec === undefined && (req.search === "" || !new URLSearchParams(req.search).has("message"))) return pass;
  // CORS only hides a response from the page: a cross-site "simple" request (a Connect GET needs no
  // preflight) would still run the call, with the browser's cookies. An Origin that is neither
  // allowed nor this host's is refused before any call starts, as for WebSockets.
  const origin = headers.get("origin");
  if (origin !== null && !checkWebSocketOrigin(origin, o.origins) && !isSameOrigin(origin, req.authority)) {
    return { kind: "refuse", refuse: textRefusal(403, "origin not allowed"), warn: { msg: "origin refused", fields: { origin, path: req.path } } };
  }
  if (contentType !== null && contentType.startsWith("application/grpc-web")) {
    const r = classifyGrpcWeb(req, contentType);
    return "refuse" in r ? { kind: "refuse", refuse: r.refuse } : { kind: "rpc", route: { protocol: "grpc-web", contentType: r.contentType, spec: spec ?? undefined } };
  }
  const r = classifyConnect(req, spec, o.allowGet, contentType);
  return "refuse" in r ? { kind: "refuse", refuse: r.refuse } : { kind: "rpc", route: { protocol: "connect", mode: r.mode, json: r.json, spec: spec ?? undefined } };
}

/** The routes {@link serveRpc} serves: every protocol but the WebSocket upgrade. */
export type HttpRpcRoute = Exclude<RpcRoute, { protocol: "grpc-websockets" }>;

/**
 * Serves an RPC the dispatcher found (Connect, gRPC-Web, native gRPC) into `res`. Never throws.
 * Native gRPC is only ever dispatched for HTTP/2 requests, whose converter's sink sends trailers.
 */
export function serveRpc(route: HttpRpcRoute, req: UniversalRequest, res: UniversalResponseSink, ctx: ServeContext): void {
  if (route.protocol === "grpc-web") serveGrpcWeb(req, res, ctx, route.contentType, route.spec);
  else if (route.protocol === "grpc") serveGrpc(req, res, ctx);
  else serveConnect(req, res, ctx, route, route.spec);
}

/** Sends a refusal the dispatcher decided. */
export { sendRefusal };

/**
 * True when the page's `Origin` parses (scheme://host[:port], nothing more) and names the host the
 * request was sent to (`authority`). A malformed Origin is never same-origin.
 */
export function isSameOrigin(origin: string | null, authority: string | null): boolean {
  const p = origin ? parseOrigin(origin) : undefined;
  if (!p || authority === null) return false;
  const host = authority.toLowerCase();
  const a = p.host + (p.port ? ":" + p.port : "");
  return a === host || a + ":" + defaultPort(p.scheme) === host;
}
