/**
 * The gRPC-Web adapter (binary and text mode): a fetch `Request` in, a streaming `Response` out
 * ({@link handleGrpcWeb}); the protocol itself ({@link serveGrpcWeb}) writes into a {@link GrpcWebSink},
 * so the Node entry's fast path serves it from `IncomingMessage` / `ServerResponse` with the same code.
 *
 * Response: HTTP 200, data frames, and the status and trailers as the last frame (flag 0x80). An error
 * before any header or message is answered trailers-only: the status in the HTTP headers, empty body.
 * Text mode decodes the base64 request body incrementally (chunks need not align to 4) and encodes
 * each response chunk as its own padded base64 segment, so every flush is decodable at once.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { Call, CallHandler, CallResponder } from "../core/call.js";
import type { Metadata } from "../core/metadata.js";
import { resolveProtocolOptions, type JsonCodec, type ProtocolOptions, type RequestInfo, type ResolvedProtocolOptions } from "../protocol/options.js";
import { Base64Decoder, base64EncodeToBytes } from "../protocol/base64.js";
import { acceptedEncodings, parseRequestEncoding, type Encoding } from "../protocol/compression.js";
import { abortWith, linkClientSignal, type ClientWatch } from "../protocol/client-signal.js";
import { encodeEnvelope, encodeEnvelopePrefix, flagGrpcWebTrailer, zeroCopyMinBytes } from "../protocol/envelope.js";
import { grpcStatusEntries } from "../protocol/grpc-status.js";
import { encodeHeaderBlock } from "../protocol/header-block.js";
import type { RequestHeaders, ResponseHeaders } from "../protocol/header-list.js";
import { appendErrorMetadataToHeaders, appendMetadataToHeaders, headersToMetadata } from "../protocol/metadata-headers.js";
import { effectiveTimeout, parseGrpcTimeout } from "../protocol/parse-timeout.js";
import { RequestStream, createEnvelopeUnwrapper } from "../protocol/request-stream.js";
import { requestPath } from "../protocol/request-path.js";
import { createResponseStream, type ResponseStreamWriter } from "../protocol/response-stream.js";
import { clientCancelled, runHandler } from "../protocol/run-handler.js";
import { grpcWebResponseContentType, parseGrpcWebContentType, type GrpcWebContentType } from "./content-type.js";
import { responseMessage } from "../protocol/response-message.js";
import { singleRequestKind } from "../protocol/method-spec.js";

/**
 * A gRPC-Web request as {@link serveGrpcWeb} sees it, whatever the runtime's request object: a fetch
 * `Request` ({@link handleGrpcWeb}), or Node's `IncomingMessage` (the Node entry's fast path).
 */
export interface GrpcWebRequest {
  /** The method path. */
  readonly path: string;
  readonly contentType: GrpcWebContentType;
  readonly headers: RequestHeaders;
  /** The enveloped body (text mode: base64 of it). */
  readonly body: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> | null;
  /** The runtime's sign that the client went away. */
  readonly clientGone: AbortSignal | ClientWatch | undefined;
  readonly remoteAddress: string | undefined;
  /** See `Call.closed`. */
  readonly closed?: Promise<void>;
}

/**
 * Where a gRPC-Web response goes: a fetch `Response` with a streamed body, or Node's `ServerResponse`.
 * {@link serveGrpcWeb} fills `headers`, then calls exactly one of `open` (HTTP 200; the body follows
 * through `write` and `close`) and `openEmpty` (trailers-only: HTTP 200, the status in the headers, no body).
 */
export interface GrpcWebSink {
  readonly headers: ResponseHeaders;
  open(): void;
  openEmpty(): void;
  /** Queues a body chunk (text mode: the sink encodes it); a promise while the client is behind. */
  write(chunk: Uint8Array): void | Promise<void>;
  close(): void;
}

/**
 * Serves a gRPC-Web request. Non-POST gets 405, a content type that is not gRPC-Web 415; everything
 * else is answered with HTTP 200 and a gRPC status. Never throws.
 */
export async function handleGrpcWeb(req: Request, handler: CallHandler, opts?: ProtocolOptions, info?: RequestInfo): Promise<Response> {
  if (req.method !== "POST") return new Response(null, { status: 405, headers: { allow: "POST" } });
  const ct = parseGrpcWebContentType(req.headers.get("content-type"));
  if (ct === undefined) return new Response(null, { status: 415, headers: { accept: "application/grpc-web, application/grpc-web-text" } });
  const o = resolveProtocolOptions(opts);
  let cancel: () => void = noop;
  const sink = new FetchSink(createResponseStream(o.highWaterMarkBytes, () => cancel(), ct.text ? base64EncodeToBytes : undefined));
  cancel = serveGrpcWeb(
    {
      path: info?.path ?? requestPath(req.url),
      contentType: ct,
      headers: req.headers,
      body: req.body,
      clientGone: req.signal,
      remoteAddress: info?.remoteAddress,
      closed: info?.closed,
    },
    handler,
    o,
    sink,
  );
  return sink.response;
}

/** A fetch handler with the options bound: `(req, info?) => Promise<Response>`. */
export function createGrpcWebHandler(handler: CallHandler, opts?: ProtocolOptions): (req: Request, info?: RequestInfo) => Promise<Response> {
  return (req, info) => handleGrpcWeb(req, handler, opts, info);
}

/**
 * Runs one gRPC-Web call from `req` into `sink`. Returns what the sink calls when the client cancels
 * the response (it went away): the call's signal aborts with CANCELLED.
 */
export function serveGrpcWeb(req: GrpcWebRequest, handler: CallHandler, o: ResolvedProtocolOptions, sink: GrpcWebSink): () => void {
  const ct = req.contentType;
  const { path, headers } = req;
  sink.headers.set("content-type", grpcWebResponseContentType(ct));
  let codec: JsonCodec | undefined;
  let metadata: Metadata;
  let timeoutMs: number | undefined;
  let encoding: Encoding | undefined;
  let encodingRefused = false;
  try {
    if (ct.json) {
      codec = o.json?.(path);
      if (codec === undefined) throw new ConnectError(`JSON is not available for ${path} (the gateway has no schema for it): use +proto`, Code.InvalidArgument);
    }
    encodingRefused = true;
    encoding = parseRequestEncoding(headers.get("grpc-encoding"));
    encodingRefused = false;
    timeoutMs = effectiveTimeout(parseGrpcTimeout(headers.get("grpc-timeout")), o);
    metadata = headersToMetadata(headers, o.maxMetadataBytes);
  } catch (e) {
    // gRPC's compression spec: UNIMPLEMENTED with the encodings the server accepts.
    if (encodingRefused) sink.headers.set("grpc-accept-encoding", acceptedEncodings);
    trailersOnly(sink, ConnectError.from(e, Code.Internal), undefined);
    return noop;
  }

  const { ctrl, detach } = linkClientSignal(req.clientGone);
  const responder = new GrpcWebResponder(ctrl, ct, codec, sink, detach);
  const requests = new RequestStream(req.body, {
    maxMessageBytes: o.maxMessageBytes,
    decodeChunk: ct.text ? new Base64Decoder() : undefined,
    unwrap: createEnvelopeUnwrapper(encoding, codec, o.maxMessageBytes),
    onError: (err) => responder.fail(err),
    single: singleRequestKind(o.methods?.(path)),
  });
  responder.requests = requests;
  const call: Call = {
    path,
    protocol: ct.text ? "grpc-web-text" : "grpc-web",
    shape: "unknown",
    metadata,
    signal: ctrl.signal,
    timeoutMs,
    requests,
    remote: { address: req.remoteAddress, origin: headers.get("origin") ?? undefined },
    closed: req.closed,
  };
  runHandler(handler, call, responder, () => responder.ended);
  return () => responder.cancelled();
}

/** A trailers-only response: status and trailers in the HTTP headers, empty body. */
function trailersOnly(sink: GrpcWebSink, error: ConnectError | undefined, trailers: Metadata | undefined): void {
  const h = sink.headers;
  for (const [k, v] of grpcStatusEntries(error)) h.set(k, v);
  appendMetadataToHeaders(h, trailers);
  appendErrorMetadataToHeaders(h, error);
  sink.openEmpty();
}

/** The fetch sink: a `Response` with a backpressured body stream, handed out when the sink opens. */
class FetchSink implements GrpcWebSink {
  readonly headers = new Headers();
  private resolveResponse!: (r: Response) => void;
  readonly response = new Promise<Response>((r) => (this.resolveResponse = r));

  constructor(private readonly writer: ResponseStreamWriter) {}

  open(): void {
    this.resolveResponse(new Response(this.writer.stream, { status: 200, headers: this.headers }));
  }

  openEmpty(): void {
    this.writer.close();
    this.resolveResponse(new Response(null, { status: 200, headers: this.headers }));
  }

  write(chunk: Uint8Array): void | Promise<void> {
    return this.writer.write(chunk);
  }

  close(): void {
    this.writer.close();
  }
}

/** Writes a gRPC-Web response into its sink, which opens at the first of header / message / end. */
class GrpcWebResponder implements CallResponder {
  ended = false;
  requests: RequestStream | undefined;
  private started = false;

  constructor(
    private readonly ctrl: AbortController,
    private readonly ct: GrpcWebContentType,
    private readonly codec: JsonCodec | undefined,
    private readonly sink: GrpcWebSink,
    private readonly detach: () => void,
  ) {}

  header(md: Metadata): void {
    if (this.ended || this.started) return;
    appendMetadataToHeaders(this.sink.headers, md);
    this.start();
  }

  message(data: Uint8Array): void | Promise<void> {
    if (this.ended) return;
    this.start();
    const d = responseMessage(this.codec, data);
    if (d instanceof ConnectError) {
      this.fail(d);
      return;
    }
    if (!this.ct.text && d.byteLength >= zeroCopyMinBytes) {
      this.sink.write(encodeEnvelopePrefix(0, d.byteLength));
      return this.sink.write(d);
    }
    return this.sink.write(encodeEnvelope(0, d));
  }

  end(error: ConnectError | undefined, trailers: Metadata): void {
    if (this.ended) return;
    this.ended = true;
    this.detach();
    this.requests?.close();
    if (!this.started && error !== undefined) {
      this.started = true;
      trailersOnly(this.sink, error, trailers);
      return;
    }
    this.start();
    const block = encodeHeaderBlock(grpcStatusEntries(error), trailers, error?.metadata);
    this.sink.write(encodeEnvelope(flagGrpcWebTrailer, block));
    this.sink.close();
  }

  /** The request stream failed: end with the error. */
  fail(err: ConnectError): void {
    if (this.ended) return;
    abortWith(this.ctrl, err);
    this.end(err, new Map());
  }

  /** The client cancelled the response (it went away). */
  cancelled(): void {
    abortWith(this.ctrl, clientCancelled("the client cancelled the response stream"));
    if (!this.ended) {
      this.ended = true;
      this.detach();
      this.requests?.close();
    }
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    this.sink.open();
  }
}

function noop(): void {}
