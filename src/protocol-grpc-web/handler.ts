/**
 * The gRPC-Web adapter (binary and text mode): a fetch `Request` in, a streaming `Response` out.
 *
 * Response: HTTP 200, data frames, and the status and trailers as the last frame (flag 0x80). An error
 * before any header or message is answered trailers-only: the status in the HTTP headers, empty body.
 * Text mode decodes the base64 request body incrementally (chunks need not align to 4) and encodes
 * each response chunk as its own padded base64 segment, so every flush is decodable at once.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { Call, CallHandler, CallResponder } from "../protocol/call.js";
import type { Metadata } from "../protocol/metadata.js";
import { resolveProtocolOptions, type JsonCodec, type ProtocolOptions, type RequestInfo, type ResolvedProtocolOptions } from "../protocol/options.js";
import { Base64Decoder, base64EncodeToBytes } from "../protocol/base64.js";
import { parseRequestEncoding, type Encoding } from "../protocol/compression.js";
import { abortWith, linkClientSignal } from "../protocol/client-signal.js";
import { encodeEnvelope, encodeEnvelopePrefix, flagGrpcWebTrailer, zeroCopyMinBytes } from "../protocol/envelope.js";
import { grpcStatusEntries } from "../protocol/grpc-status.js";
import { encodeHeaderBlock } from "../protocol/header-block.js";
import { appendErrorMetadataToHeaders, appendMetadataToHeaders, headersToMetadata } from "../protocol/metadata-headers.js";
import { effectiveTimeout, parseGrpcTimeout } from "../protocol/parse-timeout.js";
import { RequestStream, createEnvelopeUnwrapper } from "../protocol/request-stream.js";
import { requestPath } from "../protocol/request-path.js";
import { createResponseStream, type ResponseStreamWriter } from "../protocol/response-stream.js";
import { clientCancelled, runHandler } from "../protocol/run-handler.js";
import { grpcWebResponseContentType, parseGrpcWebContentType, type GrpcWebContentType } from "./content-type.js";
import { responseMessage } from "../protocol/response-message.js";

/**
 * Serves a gRPC-Web request. Non-POST gets 405, a content type that is not gRPC-Web 415; everything
 * else is answered with HTTP 200 and a gRPC status. Never throws.
 */
export async function handleGrpcWeb(req: Request, handler: CallHandler, opts?: ProtocolOptions, info?: RequestInfo): Promise<Response> {
  if (req.method !== "POST") return new Response(null, { status: 405, headers: { allow: "POST" } });
  const ct = parseGrpcWebContentType(req.headers.get("content-type"));
  if (ct === undefined) return new Response(null, { status: 415, headers: { accept: "application/grpc-web, application/grpc-web-text" } });
  const o = resolveProtocolOptions(opts);
  const path = info?.path ?? requestPath(req.url);
  const headers = req.headers;
  const contentType = grpcWebResponseContentType(ct);
  let codec: JsonCodec | undefined;
  let metadata: Metadata;
  let timeoutMs: number | undefined;
  let encoding: Encoding | undefined;
  try {
    if (ct.json) {
      codec = o.json?.(path);
      if (codec === undefined) throw new ConnectError(`JSON is not available for ${path} (the gateway has no schema for it): use +proto`, Code.InvalidArgument);
    }
    encoding = parseRequestEncoding(headers.get("grpc-encoding"));
    timeoutMs = effectiveTimeout(parseGrpcTimeout(headers.get("grpc-timeout")), o);
    metadata = headersToMetadata(headers, o.maxMetadataBytes);
  } catch (e) {
    return trailersOnly(contentType, ConnectError.from(e, Code.Internal), undefined);
  }

  const { ctrl, detach } = linkClientSignal(req.signal);
  const responder = new GrpcWebResponder(ctrl, ct, contentType, codec, o, detach);
  const requests = new RequestStream(req.body, {
    maxMessageBytes: o.maxMessageBytes,
    decodeChunk: ct.text ? new Base64Decoder() : undefined,
    unwrap: createEnvelopeUnwrapper(encoding, codec, o.maxMessageBytes),
    onError: (err) => responder.fail(err),
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
    remote: { address: info?.remoteAddress, origin: headers.get("origin") ?? undefined },
  };
  runHandler(handler, call, responder, () => responder.ended);
  return responder.response;
}

/** A fetch handler with the options bound: `(req, info?) => Promise<Response>`. */
export function createGrpcWebHandler(handler: CallHandler, opts?: ProtocolOptions): (req: Request, info?: RequestInfo) => Promise<Response> {
  return (req, info) => handleGrpcWeb(req, handler, opts, info);
}

/** A trailers-only response: status and trailers in the HTTP headers, empty body. */
function trailersOnly(contentType: string, error: ConnectError | undefined, trailers: Metadata | undefined): Response {
  const h = new Headers();
  h.set("content-type", contentType);
  for (const [k, v] of grpcStatusEntries(error)) h.set(k, v);
  appendMetadataToHeaders(h, trailers);
  appendErrorMetadataToHeaders(h, error);
  return new Response(null, { status: 200, headers: h });
}

/** Writes a gRPC-Web response; the `Response` is handed out at the first of header / message / end. */
class GrpcWebResponder implements CallResponder {
  ended = false;
  requests: RequestStream | undefined;
  private started = false;
  private readonly headers: Headers;
  private readonly writer: ResponseStreamWriter;
  private resolveResponse!: (r: Response) => void;
  readonly response = new Promise<Response>((r) => (this.resolveResponse = r));

  constructor(
    private readonly ctrl: AbortController,
    private readonly ct: GrpcWebContentType,
    private readonly contentType: string,
    private readonly codec: JsonCodec | undefined,
    o: ResolvedProtocolOptions,
    private readonly detach: () => void,
  ) {
    this.headers = new Headers();
    this.headers.set("content-type", contentType);
    this.writer = createResponseStream(o.highWaterMarkBytes, () => this.cancelled(), ct.text ? base64EncodeToBytes : undefined);
  }

  header(md: Metadata): void {
    if (this.ended || this.started) return;
    appendMetadataToHeaders(this.headers, md);
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
      this.writer.write(encodeEnvelopePrefix(0, d.byteLength));
      return this.writer.write(d);
    }
    return this.writer.write(encodeEnvelope(0, d));
  }

  end(error: ConnectError | undefined, trailers: Metadata): void {
    if (this.ended) return;
    this.ended = true;
    this.detach();
    this.requests?.close();
    if (!this.started && error !== undefined) {
      this.started = true;
      this.writer.close();
      this.resolveResponse(trailersOnly(this.contentType, error, trailers));
      return;
    }
    this.start();
    const block = encodeHeaderBlock(grpcStatusEntries(error), trailers, error?.metadata);
    this.writer.write(encodeEnvelope(flagGrpcWebTrailer, block));
    this.writer.close();
  }

  /** The request stream failed: end with the error. */
  fail(err: ConnectError): void {
    if (this.ended) return;
    abortWith(this.ctrl, err);
    this.end(err, new Map());
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    this.resolveResponse(new Response(this.writer.stream, { status: 200, headers: this.headers }));
  }

  private cancelled(): void {
    abortWith(this.ctrl, clientCancelled("the client cancelled the response stream"));
    if (!this.ended) {
      this.ended = true;
      this.detach();
      this.requests?.close();
    }
  }
}
