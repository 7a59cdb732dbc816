/**
 * Connect unary calls on the seam (src/protocol/universal.ts): POST with a bare message body, and GET
 * with the message in the query. {@link serveConnectUnary} is the protocol, whatever the runtime:
 * the fetch converter (Hono, Deno, Workers) and the Node converter drive it alike.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { Call, CallResponder } from "../core/call.js";
import type { CallAbort } from "../core/call-signal.js";
import type { Metadata } from "../core/metadata.js";
import type { JsonCodec, ServeContext } from "../protocol/options.js";
import { base64Decode } from "../protocol/base64.js";
import { acceptsGzip, gunzip, gzip, messageTooLarge, parseRequestEncoding } from "../protocol/compression.js";
import { linkClientSignal } from "../protocol/client-signal.js";
import { HeaderList } from "../protocol/header-list.js";
import { codeToHttpStatus } from "../protocol/http-status.js";
import { appendErrorMetadataToHeaders, appendMetadataToHeaders, headersToMetadata } from "../protocol/metadata-headers.js";
import { singleMessage } from "../protocol/message-queue.js";
import { effectiveTimeout, parseConnectTimeout } from "../protocol/parse-timeout.js";
import { readBody } from "../protocol/read-body.js";
import { runHandler } from "../protocol/run-handler.js";
import type { UniversalRequest, UniversalResponseSink } from "../protocol/universal.js";
import { contentTypeUnaryJson, contentTypeUnaryProto } from "./content-type.js";
import { encodeErrorJson } from "./end-stream.js";

/** A whole unary HTTP response: status, headers, body. */
export interface UnaryHttpResponse {
  readonly status: number;
  readonly headers: HeaderList;
  readonly body: Uint8Array;
}

/**
 * Serves one Connect unary call into `res` with one `respond` (success, or an error as Connect's JSON
 * error body). `get`: the message is in the query (and the encoding in its `encoding` parameter);
 * else `json` tells the encoding from the content type. The dispatcher (src/protocol/dispatch.ts)
 * has checked the method, the content type and the method's kind. Never throws.
 */
export function serveConnectUnary(req: UniversalRequest, res: UniversalResponseSink, ctx: ServeContext, get: boolean, json: boolean): void {
  connectUnary(req, ctx, get, json)
    .catch((e: unknown) => connectErrorHead(ConnectError.from(e, Code.Internal)))
    .then((r) => res.respond(r.status, r.headers, r.body));
}

async function connectUnary(req: UniversalRequest, ctx: ServeContext, isGet: boolean, json: boolean): Promise<UnaryHttpResponse> {
  const { path, headers } = req;
  const o = ctx.options;
  const query = isGet ? new URLSearchParams(req.search) : undefined;
  if (query !== undefined) {
    const encoding = query.get("encoding");
    if (encoding !== "proto" && encoding !== "json") {
      return connectErrorHead(new ConnectError(`unsupported encoding=${JSON.stringify(encoding)}: use proto or json`, Code.InvalidArgument), 415);
    }
    json = encoding === "json";
  }
  let codec: JsonCodec | undefined;
  if (json) {
    codec = o.json?.(path);
    if (codec === undefined) {
      return connectErrorHead(new ConnectError(`JSON is not available for ${path} (the gateway has no schema for it): use application/proto`, Code.InvalidArgument), 415);
    }
  }
  let metadata: Metadata;
  let timeoutMs: number | undefined;
  let message: Uint8Array;
  try {
    if (ctx.requireConnectVersion) {
      const v = query !== undefined ? query.get("connect") : headers.get("connect-protocol-version");
      if (v !== (query !== undefined ? "v1" : "1")) throw new ConnectError(`missing or unsupported Connect protocol version`, Code.InvalidArgument);
    }
    const encoding = parseRequestEncoding(query !== undefined ? query.get("compression") : headers.get("content-encoding"));
    timeoutMs = effectiveTimeout(parseConnectTimeout(headers.get("connect-timeout-ms")), o);
    metadata = headersToMetadata(headers, o.maxMetadataBytes);
    if (query !== undefined) {
      const m = query.get("message") ?? "";
      message = query.get("base64") === "1" ? base64Decode(m) : new TextEncoder().encode(m);
      if (message.byteLength > o.maxMessageBytes) throw messageTooLarge(o.maxMessageBytes);
    } else {
      message = await readBody(req.body, o.maxMessageBytes);
    }
    // An empty body is not a gzip stream: the Connect spec says servers MUST NOT decompress it.
    if (encoding === "gzip" && message.byteLength > 0) message = await gunzip(message, o.maxMessageBytes);
    if (codec !== undefined) message = codec.requestToBinary(message);
  } catch (e) {
    return connectErrorHead(ConnectError.from(e, Code.InvalidArgument));
  }

  const { ctrl, detach } = linkClientSignal(req.signal);
  const responder = new UnaryResponder(ctrl);
  const call: Call = {
    path,
    protocol: "connect",
    shape: "unary",
    metadata,
    signal: ctrl.signal,
    timeoutMs,
    requests: singleMessage(message),
    remote: { address: req.remoteAddress, origin: headers.get("origin") ?? undefined },
    closed: req.closed,
  };
  runHandler(ctx.handler, call, responder, () => responder.ended);
  const r = await responder.result;
  detach();

  let error = r.error;
  let body: Uint8Array | undefined;
  if (error === undefined) {
    if (r.message === undefined) {
      // As connect-es and grpc-js answer a unary reply without its message (the Director says so first).
      error = new ConnectError("protocol error: missing output message for unary method", Code.Unimplemented);
    } else {
      try {
        body = codec !== undefined ? codec.responseToJson(r.message) : r.message;
      } catch (e) {
        error = ConnectError.from(e, Code.Internal);
      }
    }
  }
  if (error !== undefined || body === undefined) {
    return connectErrorHead(error ?? new ConnectError("internal error", Code.Internal), undefined, r.header, r.trailers);
  }
  const out = new HeaderList();
  out.set("content-type", json ? contentTypeUnaryJson : contentTypeUnaryProto);
  appendMetadataToHeaders(out, r.header);
  appendMetadataToHeaders(out, r.trailers, "trailer-");
  if (body.byteLength >= o.compressMinBytes && acceptsGzip(headers.get("accept-encoding"))) {
    body = await gzip(body);
    out.set("content-encoding", "gzip");
  }
  return { status: 200, headers: out, body };
}

/**
 * A Connect unary error response: HTTP status from the code (or `status`), JSON body, the response
 * headers and the error's metadata as headers, trailers as `trailer-` headers.
 */
export function errorResponse(error: ConnectError, status?: number, header?: Metadata, trailers?: Metadata): Response {
  const r = connectErrorHead(error, status, header, trailers);
  return new Response(r.body as Uint8Array<ArrayBuffer>, { status: r.status, headers: r.headers.toHeaders() });
}

/** {@link errorResponse} as a {@link UnaryHttpResponse}. */
export function connectErrorHead(error: ConnectError, status?: number, header?: Metadata, trailers?: Metadata): UnaryHttpResponse {
  const h = new HeaderList();
  h.set("content-type", contentTypeUnaryJson);
  appendMetadataToHeaders(h, header);
  appendErrorMetadataToHeaders(h, error);
  appendMetadataToHeaders(h, trailers, "trailer-");
  return { status: status ?? codeToHttpStatus(error.code), headers: h, body: encodeErrorJson(error) };
}

/**
 * The error of a method its service's schema does not declare: UNIMPLEMENTED, sent with HTTP 404 (not
 * the code's 501) as connect-es answers a path it has no route for.
 */
export function unknownMethod(path: string): ConnectError {
  return new ConnectError(`${path} is not implemented`, Code.Unimplemented);
}

/** The error of a content type of the wrong kind for the method (unary vs streaming): sent with HTTP 415. */
export function kindMismatch(path: string, contentType: string | null, want: string): ConnectError {
  return new ConnectError(`content-type ${JSON.stringify(contentType)} does not fit ${path}: use ${want}`, Code.InvalidArgument);
}

interface UnaryResult {
  header: Metadata | undefined;
  message: Uint8Array | undefined;
  error: ConnectError | undefined;
  trailers: Metadata | undefined;
}

/** Collects a unary response: header, exactly one message, end. */
class UnaryResponder implements CallResponder {
  ended = false;
  private readonly r: UnaryResult = { header: undefined, message: undefined, error: undefined, trailers: undefined };
  private resolve!: (r: UnaryResult) => void;
  readonly result = new Promise<UnaryResult>((resolve) => (this.resolve = resolve));

  constructor(private readonly ctrl: CallAbort) {}

  header(md: Metadata): void {
    if (!this.ended && this.r.header === undefined) this.r.header = md;
  }

  message(data: Uint8Array): void {
    if (this.ended) return;
    if (this.r.message === undefined) {
      this.r.message = data;
      return;
    }
    const err = new ConnectError("protocol error: the service sent more than one response message for a unary call", Code.Internal);
    this.end(err, new Map());
    this.ctrl.abort(err);
  }

  end(error: ConnectError | undefined, trailers: Metadata): void {
    if (this.ended) return;
    this.ended = true;
    this.r.error = error;
    this.r.trailers = trailers;
    this.resolve(this.r);
  }
}
