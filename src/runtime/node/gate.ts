/**
 * The Node gate, Node only: which HTTP/1.1 requests the Node entry serves itself instead of handing
 * them to @hono/node-server and the Hono app, which build a fetch `Request` and `Response` per request
 * (two ReadableStreams, three AbortSignals, undici's header checks — a fifth of the gateway's time
 * per call in the bench profile).
 *
 * It is not a second implementation of anything: a request it takes is put on the seam by the Node
 * converter (`./node-request.ts`, `./request-body.ts`, `./response-sink.ts`), the one dispatcher
 * decides what it is (src/protocol/dispatch.ts: origin, protocol, method kind, refusals — as for the
 * app), and the same protocol code serves it ({@link serveRpc}: Connect unary, GET and streaming,
 * gRPC-Web binary and text), with the gateway's {@link RpcServing} (the app's: its call handler
 * with the per-IP and global limits, its options) and the app's CORS policy. The gate only decides what can be taken without Hono changing the answer: a method the
 * app routes to RPCs, a plain `/<service>/<method>` target ({@link isRpcPath}: nothing to decode) with
 * a plain query, a Host @hono/node-server accepts (it answers 400 to others), no upgrade, and a
 * request the dispatcher does not pass on (static files). Everything else — OPTIONS preflights, HEAD,
 * HTTP/2, WebSocket upgrades, odd paths and hosts — is left to the app, untouched.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { appCorsOptions } from "../../app.js";
import type { Config } from "../../config/index.js";
import { createCorsPolicy } from "../../cors/index.js";
import { dispatch, sendRefusal, serveRpc, type RpcServing } from "../../protocol/dispatch.js";
import { HeaderList } from "../../protocol/header-list.js";
import { isRpcPath } from "../../protocol/rpc-path.js";
import type { Logger } from "../../observability/logger.js";
import { NodeRequest } from "./node-request.js";
import { NodeResponseSink } from "./response-sink.js";

export { isRpcPath };

/** Serves a request the gate takes (true); otherwise leaves it alone (false). */
export interface NodeGate {
  (req: IncomingMessage, res: ServerResponse): boolean;
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

  const gate = ((req: IncomingMessage, res: ServerResponse): boolean => {
    if (req.httpVersionMajor !== 1 || !routedMethods.has(req.method!)) return false;
    const target = req.url!;
    const q = target.indexOf("?");
    const path = q === -1 ? target : target.slice(0, q);
    if (!isRpcPath(path)) return false;
    const search = q === -1 ? "" : target.slice(q);
    if (!isPlainQuery(search)) return false;
    const headers = HeaderList.fromRaw(req.rawHeaders);
    if (headers.has("upgrade")) return false; // WebSocket upgrades go to the 'upgrade' event, Hono and ws
    // @hono/node-server answers 400 to a missing or odd Host: leave those to it.
    const host = headers.get("host");
    if (host === null || !hosts.isPlain(host)) return false;

    const request = new NodeRequest(req, res, path, search, headers);
    const d = dispatch(request, serving.dispatch);
    if (d.kind === "pass") return false; // static files, 404: the app's
    const route = d.kind === "rpc" ? d.route : undefined;
    if (route?.protocol === "grpc-websockets") return false; // an upgrade: the app's (through ws)
    served++;
    // As the app's CORS middleware: the headers of an allowed origin on every answer, none for others.
    const origin = headers.get("origin");
    const sink = new NodeResponseSink(res, highWaterMarkBytes, origin !== null && cors.allows(origin) ? (h) => cors.decorate(h, origin) : undefined);
    if (route !== undefined) serveRpc(route, request, sink, serving.context);
    else if (d.kind === "refuse") {
      if (d.warn) log?.warn(d.warn.msg, d.warn.fields);
      sendRefusal(sink, d.refuse);
    }
    return true;
  }) as NodeGate;
  Object.defineProperty(gate, "served", { get: () => served });
  return gate;
}

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
