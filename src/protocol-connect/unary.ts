/**
 * Connect unary calls: POST with a bare message body, and GET with the message in the query.
 * {@link serveConnectUnary} is the protocol, on headers and bytes; {@link handleConnectUnary} serves
 * it from a fetch `Request`, the Node entry's fast path from an `IncomingMessage`.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { Call, CallHandler, CallResponder } from "../core/call.js";
import type { Metadata } from "../core/metadata.js";
import type { JsonCodec, RequestInfo, ResolvedProtocolOptions } from "../protocol/options.js";
import { base64Decode } from "../protocol/base64.js";
import { acceptsGzip, gunzip, gzip, parseRequestEncoding, readAllBytes } from "../protocol/compression.js";
import { abortWith, linkClientSignal, type ClientWatch } from "../protocol/client-signal.js";
import { HeaderList, type RequestHeaders } from "../protocol/header-list.js";
import { codeToHttpStatus } from "../protocol/http-status.js";
import { appendErrorMetadataToHeaders, appendMetadataToHeaders, headersToMetadata } from "../protocol/metadata-headers.js";
import { singleMessage } from "../protocol/message-queue.js";
import { effectiveTimeout, parseConnectTimeout } from "../protocol/parse-timeout.js";
import { runHandler } from "../protocol/run-handler.js";
import { contentTypeUnaryJson, contentTypeUnaryProto } from "./content-type.js";
import { encodeErrorJson } from "./end-stream.js";
import type { ConnectOptions } from "./options.js";

/**
 * A Connect unary request as {@link serveConnectUnary} sees it, whatever the runtime's request object:
 * a fetch `Request` ({@link handleConnectUnary}), or Node's `IncomingMessage` (the Node entry's fast path).
 */
export interface ConnectUnaryRequest {
  /** GET carries the message in `query`, POST in the body. */
  readonly isGet: boolean;
  /** The method path. */
  readonly path: string;
  /** POST: JSON by the content type. GET reads it from the `encoding` parameter. */
  readonly json: boolean;
  readonly headers: RequestHeaders;
  /** GET: the URL's query parameters. */
  readonly query: URLSearchParams | undefined;
  /**
   * POST: the whole body. RESOURCE_EXHAUSTED as soon as it passes `maxBytes` (the rest is discarded);
   * CANCELLED when the read fails (the client went away).
   */
  readBody(maxBytes: number): Promise<Uint8Array>;
  /** The runtime's sign that the client went away (watched once the request is read). */
  readonly clientGone: AbortSignal | ClientWatch | undefined;
  /** The peer address. */
  readonly remoteAddress: string | undefined;
  /** See `Call.closed`. */
  readonly closed?: Promise<void>;
}

/** A whole unary HTTP response: status, headers, body. */
export interface UnaryHttpResponse {
  readonly status: number;
  readonly headers: HeaderList;
  readonly body: Uint8Array;
}

/**
 * Serves one Connect unary call. `json` tells the encoding from the content type (POST); for GET it is
 * read from the `encoding` query parameter.
 */
export async function handleConnectUnary(
  req: Request,
  path: string,
  json: boolean,
  handler: CallHandler,
  o: ResolvedProtocolOptions,
  copts: ConnectOptions | undefined,
  info: RequestInfo | undefined,
): Promise<Response> {
  const isGet = req.method === "GET";
  const r = await serveConnectUnary(
    {
      isGet,
      path,
      json,
      headers: req.headers,
      query: isGet ? new URL(req.url).searchParams : undefined,
      readBody: (max) => readAllBytes(req.body, max),
      get clientGone() {
        return req.signal;
      },
      remoteAddress: info?.remoteAddress,
      closed: info?.closed,
    },
    handler,
    o,
    copts,
  );
  return toFetchResponse(r);
}

/** A {@link UnaryHttpResponse} as a fetch `Response`. */
export function toFetchResponse(r: UnaryHttpResponse): Response {
  return new Response(r.body as Uint8Array<ArrayBuffer>, { status: r.status, headers: r.headers.toHeaders() });
}

/**
 * The Connect unary protocol on bytes and headers: validates the request, runs the call, and returns
 * the whole response (success, or an error as Connect's JSON error body). Never throws.
 */
export async function serveConnectUnary(
  req: ConnectUnaryRequest,
  handler: CallHandler,
  o: ResolvedProtocolOptions,
  copts: ConnectOptions | undefined,
): Promise<UnaryHttpResponse> {
  const { isGet, path, headers, query } = req;
  const spec = o.methods?.(path);
  if (spec === null) return connectErrorHead(unknownMethod(path), 404);
  if (spec !== undefined && spec.kind !== "unary") {
    return connectErrorHead(kindMismatch(path, headers.get("content-type"), "application/connect+proto or application/connect+json"), 415);
  }
  let json = req.json;
  if (isGet) {
    const encoding = query!.get("encoding");
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
    if (copts?.requireProtocolVersion) {
      const v = isGet ? query!.get("connect") : headers.get("connect-protocol-version");
      if (v !== (isGet ? "v1" : "1")) throw new ConnectError(`missing or unsupported Connect protocol version`, Code.InvalidArgument);
    }
    const encoding = parseRequestEncoding(isGet ? query!.get("compression") : headers.get("content-encoding"));
    timeoutMs = effectiveTimeout(parseConnectTimeout(headers.get("connect-timeout-ms")), o);
    metadata = headersToMetadata(headers, o.maxMetadataBytes);
    if (isGet) {
      const m = query!.get("message") ?? "";
      message = query!.get("base64") === "1" ? base64Decode(m) : new TextEncoder().encode(m);
      if (message.byteLength > o.maxMessageBytes) throw tooLarge(o.maxMessageBytes);
    } else {
      message = await req.readBody(o.maxMessageBytes);
    }
    // An empty body is not a gzip stream: the Connect spec says servers MUST NOT decompress it.
    if (encoding === "gzip" && message.byteLength > 0) message = await gunzip(message, o.maxMessageBytes);
    if (codec !== undefined) message = codec.requestToBinary(message);
  } catch (e) {
    return connectErrorHead(ConnectError.from(e, Code.InvalidArgument));
  }

  const { ctrl, detach } = linkClientSignal(req.clientGone);
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
  runHandler(handler, call, responder, () => responder.ended);
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
  return toFetchResponse(connectErrorHead(error, status, header, trailers));
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

function tooLarge(max: number): ConnectError {
  return new ConnectError(`message is larger than the limit of ${max} bytes`, Code.ResourceExhausted);
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

  constructor(private readonly ctrl: AbortController) {}

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
    abortWith(this.ctrl, err);
  }

  end(error: ConnectError | undefined, trailers: Metadata): void {
    if (this.ended) return;
    this.ended = true;
    this.r.error = error;
    this.r.trailers = trailers;
    this.resolve(this.r);
  }
}
