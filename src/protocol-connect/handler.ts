/**
 * The Connect protocol adapter: a fetch `Request` in, a `Response` out, one {@link Call} in between.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { CallHandler } from "../core/call.js";
import { resolveProtocolOptions, type RequestInfo } from "../protocol/options.js";
import { allowedHttpMethods } from "../protocol/method-spec.js";
import { requestPath } from "../protocol/request-path.js";
import { parseConnectContentType } from "./content-type.js";
import type { ConnectOptions } from "./options.js";
import { handleConnectStreaming } from "./streaming.js";
import { errorResponse, handleConnectUnary, kindMismatch, unknownMethod } from "./unary.js";

/**
 * Serves a Connect request: unary POST (`application/proto`, or `application/json` when `opts.json`
 * knows the path), unary GET, and streaming (`application/connect+proto|+json`). Other content types
 * get 415; other methods 405. Where the gateway has the method's schema (`opts.methods`), the strict
 * rules apply as connect-es applies them: GET only for `NO_SIDE_EFFECTS` unary methods (else 405),
 * a unary content type only for unary methods and a streaming one only for the others (else 415),
 * an unknown method of a known service 404 (UNIMPLEMENTED), other HTTP methods 405 with `Allow`.
 * Never throws.
 *
 * The method path is `info.path` or the URL's pathname. The HTTP version cannot be seen from a fetch
 * Request: streaming request bodies are consumed as they arrive, so bidi is full-duplex where the
 * runtime streams request bodies (HTTP/2) and half-duplex over HTTP/1.1.
 */
export async function handleConnect(req: Request, handler: CallHandler, opts?: ConnectOptions, info?: RequestInfo): Promise<Response> {
  const o = resolveProtocolOptions(opts);
  const path = info?.path ?? requestPath(req.url);
  const spec = o.methods?.(path);
  try {
    if (spec === null) return errorResponse(unknownMethod(path), 404);
    if (req.method === "GET") {
      const allow = opts?.allowGet ?? true;
      // Connect serves GET for side-effect-free unary methods only (connect-es: 405 otherwise).
      if (allow === false || (typeof allow === "function" && !allow(path)) || (spec !== undefined && allowedHttpMethods(spec) !== "GET, POST")) {
        return new Response(null, { status: 405, headers: { allow: "POST" } });
      }
      return await handleConnectUnary(req, path, false, handler, o, opts, info);
    }
    if (req.method !== "POST") return new Response(null, { status: 405, headers: { allow: spec !== undefined ? allowedHttpMethods(spec) : "POST, GET" } });
    const ct = parseConnectContentType(req.headers.get("content-type"));
    if (ct === undefined) {
      return errorResponse(new ConnectError(`unsupported content-type ${JSON.stringify(req.headers.get("content-type"))} for the Connect protocol`, Code.InvalidArgument), 415);
    }
    if (ct.stream) {
      if (spec?.kind === "unary") return errorResponse(kindMismatch(path, req.headers.get("content-type"), "application/proto or application/json"), 415);
      return await handleConnectStreaming(req, path, ct.json, handler, o, opts, info);
    }
    return await handleConnectUnary(req, path, ct.json, handler, o, opts, info);
  } catch (e) {
    return errorResponse(ConnectError.from(e, Code.Internal));
  }
}

/** A fetch handler with the options bound: `(req, info?) => Promise<Response>`. */
export function createConnectHandler(handler: CallHandler, opts?: ConnectOptions): (req: Request, info?: RequestInfo) => Promise<Response> {
  return (req, info) => handleConnect(req, handler, opts, info);
}
