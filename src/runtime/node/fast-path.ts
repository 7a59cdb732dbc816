/**
 * The Node gate, Node only: the requests the Node entry serves itself instead of handing them to
 * @hono/node-server and the Hono app, which build a fetch `Request` and `Response` per request (two
 * ReadableStreams, three AbortSignals, undici's header checks — a fifth of the gateway's time per
 * call in the bench profile).
 *
 * It is not a second implementation of anything: a request it takes is put on the seam by the Node
 * converter (`./node-request.ts`, `./response-sink.ts`), the one dispatcher decides what it is
 * (src/protocol/dispatch.ts: origin, protocol, method kind — as for the app), and the same protocol
 * code serves it ({@link serveRpc}), with the gateway's call handler (per-IP and global limits)
 * and the app's CORS policy. The gate only says which requests are worth it and safe to take without
 * Hono: HTTP/1.1 POSTs to a plain `/<service>/<method>` target ({@link isRpcPath}: nothing to decode)
 * with a Host @hono/node-server accepts (it answers 400 to others), no upgrade, an Origin that is on
 * the allow-list or none, and a Connect unary content type, or gRPC-Web with a `Content-Length` that
 * fits one message. Everything else — Connect streaming and GET, chunked gRPC-Web, HTTP/2, WebSocket
 * upgrades, odd paths, hosts and origins — is left to the app, untouched.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { allowedOrigins, appCorsOptions } from "../../app.js";
import type { Config } from "../../config/index.js";
import { createCorsPolicy } from "../../cors/index.js";
import type { CallHandler } from "../../core/call.js";
import { dispatch, sendRefusal, serveRpc, type DispatchOptions } from "../../protocol/dispatch.js";
import { envelopePrefixBytes } from "../../protocol/envelope.js";
import { HeaderList } from "../../protocol/header-list.js";
import { resolveProtocolOptions, type ResolvedProtocolOptions, type ServeContext } from "../../protocol/options.js";
import { isOriginAllowed } from "../../protocol/origin.js";
import { isRpcPath } from "../../protocol/rpc-path.js";
import { parseConnectContentType } from "../../protocol-connect/content-type.js";
import type { ConnectOptions } from "../../protocol-connect/options.js";
import { parseGrpcWebContentType } from "../../protocol-grpc-web/index.js";
import type { Logger } from "../../observability/logger.js";
import { nodeRequest } from "./node-request.js";
import { NodeResponseSink } from "./response-sink.js";

export { isRpcPath };

/** Serves a request the gate takes (true); otherwise leaves it alone (false). */
export interface NodeUnaryFastPath {
  (req: IncomingMessage, res: ServerResponse): boolean;
  /** Requests served so far. */
  readonly served: number;
}

/** What the gate needs: the app's config (origins, CORS), the gateway's call handler and protocol options. */
export interface NodeUnaryFastPathOptions {
  config: Config;
  handler: CallHandler;
  protocol: ConnectOptions;
  /** Where the dispatcher's refusals worth a line (an origin refused) are logged, as the app logs them. */
  log?: Logger;
  /** The runtime serves static files (the dispatcher passes a GET without `message` to them). */
  assets?: boolean;
}

/** Creates the gate. */
export function createNodeUnaryFastPath(opts: NodeUnaryFastPathOptions): NodeUnaryFastPath {
  const { protocol, log } = opts;
  const origins = allowedOrigins(opts.config);
  const cors = createCorsPolicy(appCorsOptions(opts.config));
  const hosts = new HostCheck();
  const o = resolveProtocolOptions(protocol);
  const ctx: ServeContext = { handler: opts.handler, options: o, requireConnectVersion: protocol.requireProtocolVersion };
  const dispatchOptions: DispatchOptions = { origins, methods: o.methods, allowGet: protocol.allowGet, assets: opts.assets ?? false };
  let served = 0;

  const fast = ((req: IncomingMessage, res: ServerResponse): boolean => {
    if (req.method !== "POST" || req.httpVersionMajor !== 1) return false;
    const target = req.url;
    if (target === undefined || !isRpcPath(target)) return false;
    const headers = HeaderList.fromRaw(req.rawHeaders);
    if (!takes(headers, o)) return false;
    // @hono/node-server answers 400 to a missing or odd Host: leave those to it.
    const host = headers.get("host");
    if (host === null || !hosts.isPlain(host)) return false;
    // CORS headers are for allowed origins only; the app refuses other origins unless they are the
    // gateway's own host. Only allowed origins (and none) come here.
    const origin = headers.get("origin");
    if (origin !== null && (origin === "" || !isOriginAllowed(origin, origins))) return false;

    const request = nodeRequest(req, res, target, "", headers);
    const d = dispatch(request, dispatchOptions);
    if (d.kind === "pass") return false;
    const route = d.kind === "rpc" ? d.route : undefined;
    if (route?.protocol === "grpc-websockets") return false; // an upgrade: the app's (through ws)
    served++;
    const sink = new NodeResponseSink(res, o.highWaterMarkBytes, origin === null ? undefined : (h) => cors.decorate(h, origin));
    if (route !== undefined) serveRpc(route, request, sink, ctx);
    else if (d.kind === "refuse") {
      if (d.warn) log?.warn(d.warn.msg, d.warn.fields);
      sendRefusal(sink, d.refuse);
    }
    return true;
  }) as NodeUnaryFastPath;
  Object.defineProperty(fast, "served", { get: () => served });
  return fast;
}

/**
 * The content types the gate takes: Connect unary (`application/proto`, `application/json`), and
 * gRPC-Web (the app dispatches on the `application/grpc-web` prefix) that the gRPC-Web protocol accepts,
 * with a `Content-Length` no larger than one enveloped message of the largest size (base64-encoded in
 * text mode); a chunked or larger body (client streaming, or one refused as too large) is the app's.
 */
function takes(headers: HeaderList, o: ResolvedProtocolOptions): boolean {
  const ctValue = headers.get("content-type");
  const ct = parseConnectContentType(ctValue);
  if (ct !== undefined) return !ct.stream && !headers.has("upgrade");
  if (ctValue === null || !ctValue.startsWith("application/grpc-web")) return false;
  const web = parseGrpcWebContentType(ctValue);
  if (web === undefined || headers.has("transfer-encoding") || headers.has("upgrade")) return false;
  const length = headers.get("content-length");
  if (length === null || !/^\d{1,10}$/.test(length)) return false;
  const max = o.maxMessageBytes + envelopePrefixBytes;
  return Number(length) <= (web.text ? Math.ceil(max / 3) * 4 : max);
}

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
