/**
 * The Connect protocol from a fetch `Request` to a `Response` (the fetch converter, the Connect
 * classifier and the protocol), for apps that mount it alone. The gateway's app goes through the
 * dispatcher (src/protocol/dispatch.ts) instead, which serves every protocol.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { CallHandler } from "../core/call.js";
import type { MethodSpec } from "../protocol/method-spec.js";
import { resolveProtocolOptions, type RequestInfo, type ServeContext } from "../protocol/options.js";
import { sendRefusal } from "../protocol/refusal.js";
import { fromFetchRequest } from "../protocol/universal-fetch.js";
import type { UniversalRequest, UniversalResponseSink } from "../protocol/universal.js";
import type { ConnectOptions } from "./options.js";
import type { ConnectRoute } from "./route.js";
import { classifyConnect } from "./route.js";
import { serveConnectStream } from "./streaming.js";
import { errorResponse, serveConnectUnary } from "./unary.js";

/**
 * Serves a Connect request: unary POST (`application/proto`, or `application/json` when `opts.json`
 * knows the path), unary GET, and streaming (`application/connect+proto|+json`). Other content types
 * get 415; other methods 405. Where the gateway has the method's schema (`opts.methods`), the strict
 * rules apply as connect-es applies them (see `classifyConnect`). Never throws.
 *
 * The method path is `info.path` or the URL's pathname. The HTTP version cannot be seen from a fetch
 * Request: streaming request bodies are consumed as they arrive, so bidi is full-duplex where the
 * runtime streams request bodies (HTTP/2) and half-duplex over HTTP/1.1.
 */
export async function handleConnect(req: Request, handler: CallHandler, opts?: ConnectOptions, info?: RequestInfo): Promise<Response> {
  try {
    const o = resolveProtocolOptions(opts);
    const { request, sink } = fromFetchRequest(req, info, o.highWaterMarkBytes);
    const spec = o.methods?.(request.path);
    serveConnect(request, sink, { handler, options: o, requireConnectVersion: opts?.requireProtocolVersion }, classifyConnect(request, spec, opts?.allowGet), spec ?? undefined);
    return await sink.response;
  } catch (e) {
    return errorResponse(ConnectError.from(e, Code.Internal));
  }
}

/** A fetch handler with the options bound: `(req, info?) => Promise<Response>`. */
export function createConnectHandler(handler: CallHandler, opts?: ConnectOptions): (req: Request, info?: RequestInfo) => Promise<Response> {
  return (req, info) => handleConnect(req, handler, opts, info);
}

/** Serves a classified Connect request (see `classifyConnect`) into `res`. Never throws. */
export function serveConnect(req: UniversalRequest, res: UniversalResponseSink, ctx: ServeContext, route: ConnectRoute, spec: MethodSpec | undefined): void {
  if ("refuse" in route) sendRefusal(res, route.refuse);
  else if (route.mode === "stream") serveConnectStream(req, res, ctx, route.json, spec);
  else serveConnectUnary(req, res, ctx, route.mode === "get", route.json);
}
