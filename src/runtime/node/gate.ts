/**
 * The Node gate, Node only: which requests the Node entry serves itself instead of handing them to
 * @hono/node-server and the Hono app, which build a fetch `Request` and `Response` per request
 * (two ReadableStreams, three AbortSignals, undici's header checks — a fifth of the gateway's time
 * per call in the bench profile).
 *
 * It is not a second implementation of anything: a request it takes is put on the seam by the Node
 * converter (HTTP/1.1: `./node-request.ts`, `./request-body.ts`, `./response-sink.ts`; HTTP/2, from
 * the raw stream: `./h2-stream-request.ts`, `./h2-stream-sink.ts`), the one dispatcher decides what
 * it is (src/protocol/dispatch.ts: origin, protocol, method kind, refusals — as for the app), and the
 * same protocol code serves it ({@link serveRpc}: Connect unary, GET and streaming, gRPC-Web binary
 * and text), with the gateway's {@link RpcServing} (the app's: its call handler with the per-IP and
 * global limits, its options) and the app's CORS policy. The gate only decides what can be taken
 * without Hono changing the answer: a method the app routes to RPCs, a plain `/<service>/<method>`
 * target ({@link isRpcPath}: nothing to decode) with a plain query, a Host (HTTP/2: `:authority`, and
 * an `http`/`https` `:scheme`) @hono/node-server accepts (it answers 400 to others), no upgrade, and
 * a request the dispatcher does not pass on (static files). Everything else — OPTIONS preflights,
 * HEAD, WebSocket upgrades, odd paths and hosts, /api/*, /metrics — is left to the app, untouched.
 * Native gRPC over HTTP/2 (any path, as the dispatcher decides it first) is the gate's too, with real
 * trailers: the one-port server (./server.ts) asks the gate before anything else.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { appCorsOptions } from "../../app.js";
import type { Config } from "../../config/index.js";
import { createCorsPolicy } from "../../cors/index.js";
import { dispatch, sendRefusal, serveRpc, type Dispatch, type HttpRpcRoute, type RpcServing } from "../../protocol/dispatch.js";
import { HeaderList, type RequestHeaders } from "../../protocol/header-list.js";
import { isRpcPath } from "../../protocol/rpc-path.js";
import { isGrpcContentType } from "../../protocol-grpc/content-type.js";
import type { UniversalRequest, UniversalResponseSink } from "../../protocol/universal.js";
import type { Logger } from "../../observability/logger.js";
import { h2StreamRequest } from "./h2-stream-request.js";
import { H2StreamSink } from "./h2-stream-sink.js";
import { NodeRequest } from "./node-request.js";
import { NodeResponseSink } from "./response-sink.js";

export { isRpcPath };

/** Serves a request the gate takes (true); otherwise leaves it alone (false). HTTP/1.1 or HTTP/2 (compat objects). */
export interface NodeGate {
  (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): boolean;
  /** Requests served so far. */
  readonly served: number;
}

/** What the gate needs: the app's config (CORS) and the gateway's {@link RpcServing} (`gateway.serving`). */
export interface NodeGateOptions {
  config: Config;
  /** The dispatcher's options and the protocols' context, the app's own (`gateway.serving`). */
  serving: RpcServing;
  /** Where the dispatcher's refusals worth a line (an origin refused) are logged, as the app logs them. */
  log?: Logger;
}

/** Creates the gate. */
export function createNodeGate(opts: NodeGateOptions): NodeGate {
  const { serving, log } = opts;
  const cors = createCorsPolicy(appCorsOptions(opts.config));
  const hosts = new HostCheck();
  const { highWaterMarkBytes } = serving.context.options;
  let served = 0;

  /** As the app's CORS middleware: the headers of an allowed origin on every answer, none for others. */
  const corsOf = (headers: RequestHeaders): ((h: HeaderList) => void) | undefined => {
    const origin = headers.get("origin");
    return origin !== null && cors.allows(origin) ? (h) => cors.decorate(h, origin) : undefined;
  };

  /** The dispatcher's decision, unless it is the app's (static files, 404, a WebSocket upgrade). */
  const decide = (request: UniversalRequest): Taken | undefined => {
    const d = dispatch(request, serving.dispatch);
    if (d.kind === "pass") return undefined;
    if (d.kind === "rpc") return d.route.protocol === "grpc-websockets" ? undefined : { kind: "rpc", route: d.route }; // an upgrade: the app's (through ws)
    return d;
  };

  const serve = (d: Taken, request: UniversalRequest, sink: UniversalResponseSink): void => {
    served++;
    if (d.kind === "rpc") serveRpc(d.route, request, sink, serving.context);
    else {
      if (d.warn) log?.warn(d.warn.msg, d.warn.fields);
      sendRefusal(sink, d.refuse);
    }
  };

  /** The path and query of a request target the gate may take, or undefined. */
  const target = (method: string | undefined, url: string | undefined): { path: string; search: string } | undefined => {
    if (method === undefined || !routedMethods.has(method) || url === undefined) return undefined;
    const q = url.indexOf("?");
    const path = q === -1 ? url : url.slice(0, q);
    if (!isRpcPath(path)) return undefined;
    const search = q === -1 ? "" : url.slice(q);
    return isPlainQuery(search) ? { path, search } : undefined;
  };

  const http1 = (req: IncomingMessage, res: ServerResponse): boolean => {
    const t = target(req.method, req.url);
    if (t === undefined) return false;
    const headers = HeaderList.fromRaw(req.rawHeaders);
    if (headers.has("upgrade")) return false; // WebSocket upgrades go to the 'upgrade' event, Hono and ws
    // @hono/node-server answers 400 to a missing or odd Host: leave those to it.
    const host = headers.get("host");
    if (host === null || !hosts.isPlain(host)) return false;
    const request = new NodeRequest(req, res, t.path, t.search, headers);
    const d = decide(request);
    if (d === undefined) return false;
    serve(d, request, new NodeResponseSink(res, highWaterMarkBytes, corsOf(headers)));
    return true;
  };

  // HTTP/2: the request is served from its raw stream, as native gRPC is (the compat response stays
  // unused); the request's `closed` is the stream's, so a call counts until its stream closes.
  const http2 = (req: Http2ServerRequest): boolean => {
    // Native gRPC on any path and method (the dispatcher says so first; serveGrpc answers 405 to a
    // method other than POST, the Director validates the path): the app could not serve it.
    if (!isGrpcContentType(req.headers["content-type"])) {
      if (target(req.method, req.url) === undefined) return false;
      // @hono/node-server answers 400 to an odd :scheme or authority: leave those to it.
      const scheme = req.scheme;
      if (scheme !== "http" && scheme !== "https") return false;
      const authority = req.authority;
      if (!authority || !hosts.isPlain(authority)) return false;
    }
    const stream = req.stream;
    const request = h2StreamRequest(stream, req.headers, req.socket?.remoteAddress);
    if (request.headers.get("upgrade") !== null) return false;
    const d = decide(request);
    if (d === undefined) return false;
    stream.on("error", noop); // a reset stream reports here; the request's signal does the rest
    const grpc = d.kind === "rpc" && d.route.protocol === "grpc";
    serve(d, request, new H2StreamSink(stream, { trailers: grpc, highWaterMark: highWaterMarkBytes, decorate: grpc ? undefined : corsOf(request.headers) }));
    return true;
  };

  const gate = ((req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): boolean => {
    const major = req.httpVersionMajor;
    if (major === 1) return http1(req as IncomingMessage, res as ServerResponse);
    if (major === 2) return http2(req as Http2ServerRequest);
    return false;
  }) as NodeGate;
  Object.defineProperty(gate, "served", { get: () => served });
  return gate;
}

/** What the gate serves: an RPC over HTTP, or a refusal. */
type Taken = Extract<Dispatch, { kind: "refuse" }> | { readonly kind: "rpc"; readonly route: HttpRpcRoute };

function noop(): void {}

/** The HTTP methods the app routes to RPCs (`/:service/:method`); others (OPTIONS preflights, HEAD) stay the app's. */
const routedMethods = new Set(["POST", "GET", "PUT", "DELETE", "PATCH"]);

/**
 * True for a query (with its `?`, or empty) that the URL parser keeps as it stands, so that the
 * dispatcher and Connect GET read the same parameters as through the app: unreserved, sub-delimiter
 * and `:@/?%` characters only (no space, quote, `#` or non-ASCII, which the parser would re-encode).
 */
function isPlainQuery(q: string): boolean {
  for (let i = 1; i < q.length; i++) {
    const c = q.charCodeAt(i);
    if (c >= 128 || !queryChar[c]) return false;
  }
  return true;
}

const queryChar = new Uint8Array(128);
for (const c of "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/?%") queryChar[c.charCodeAt(0)] = 1;

/**
 * Whether @hono/node-server accepts a Host header as it is: the URL it builds parses, and the parsed
 * hostname is the header's (less a port). Cached: a gateway sees few distinct hosts.
 */
class HostCheck {
  private readonly cache = new Map<string, boolean>();

  isPlain(host: string): boolean {
    let ok = this.cache.get(host);
    if (ok === undefined) {
      try {
        const url = new URL(`http://${host}/`);
        ok = url.hostname.length === host.length || url.hostname === host.replace(/:\d+$/, "");
      } catch {
        ok = false;
      }
      if (this.cache.size >= 256) this.cache.clear();
      this.cache.set(host, ok);
    }
    return ok;
  }
}
