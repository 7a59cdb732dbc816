/**
 * The gRPC-Web protocol (binary and text mode) on the seam (src/protocol/universal.ts):
 * {@link serveGrpcWeb}, driven by the fetch converter (Hono, Deno, Workers; {@link handleGrpcWeb}) and
 * the Node converter alike.
 *
 * Response: HTTP 200, data frames, and the status and trailers as the last frame (flag 0x80). An error
 * before any header or message is answered trailers-only: the status in the HTTP headers, empty body.
 * Text mode decodes the base64 request body incrementally (chunks need not align to 4) and encodes
 * each response chunk as its own padded base64 segment, so every flush is decodable at once.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { CallHandler } from "../core/call.js";
import type { Metadata } from "../core/metadata.js";
import { resolveProtocolOptions, type JsonCodec, type ProtocolOptions, type RequestInfo, type ServeContext } from "../protocol/options.js";
import { Base64Decoder, base64EncodeToBytes } from "../protocol/base64.js";
import { acceptedEncodings, parseRequestEncoding, type Encoding } from "../protocol/compression.js";
import { encodeEnvelope, encodeEnvelopePrefix, flagGrpcWebTrailer, zeroCopyMinBytes } from "../protocol/envelope.js";
import { grpcStatusEntries } from "../protocol/grpc-status.js";
import { encodeHeaderBlock } from "../protocol/header-block.js";
import { HeaderList } from "../protocol/header-list.js";
import { appendErrorMetadataToHeaders, appendMetadataToHeaders, headersToMetadata } from "../protocol/metadata-headers.js";
import { singleRequestKind, type MethodSpec } from "../protocol/method-spec.js";
import { effectiveTimeout, parseGrpcTimeout } from "../protocol/parse-timeout.js";
import { createEnvelopeUnwrapper } from "../protocol/request-stream.js";
import { responseMessage } from "../protocol/response-message.js";
import { sendRefusal } from "../protocol/refusal.js";
import { SinkResponder, startStreamingCall } from "../protocol/streaming-call.js";
import { fromFetchRequest } from "../protocol/universal-fetch.js";
import type { UniversalRequest, UniversalResponseSink } from "../protocol/universal.js";
import { grpcWebResponseContentType, type GrpcWebContentType } from "./content-type.js";
import { classifyGrpcWeb } from "./route.js";

/**
 * Serves a gRPC-Web request from a fetch `Request`. Non-POST gets 405, a content type that is not
 * gRPC-Web 415; everything else is answered with HTTP 200 and a gRPC status. Never throws.
 */
export async function handleGrpcWeb(req: Request, handler: CallHandler, opts?: ProtocolOptions, info?: RequestInfo): Promise<Response> {
  const o = resolveProtocolOptions(opts);
  const { request, sink } = fromFetchRequest(req, info, o.highWaterMarkBytes);
  const route = classifyGrpcWeb(request);
  if ("refuse" in route) sendRefusal(sink, route.refuse);
  else serveGrpcWeb(request, sink, { handler, options: o }, route.contentType, o.methods?.(request.path) ?? undefined);
  return sink.response;
}

/** A fetch handler with the options bound: `(req, info?) => Promise<Response>`. */
export function createGrpcWebHandler(handler: CallHandler, opts?: ProtocolOptions): (req: Request, info?: RequestInfo) => Promise<Response> {
  return (req, info) => handleGrpcWeb(req, handler, opts, info);
}

/**
 * Runs one gRPC-Web call from `req` into `res`: `ct` from the request's content type, `spec` the
 * method's schema when the gateway has it (a unary or server-streaming method takes exactly one
 * request message). The dispatcher has checked the HTTP method and the content type. Never throws.
 */
export function serveGrpcWeb(req: UniversalRequest, res: UniversalResponseSink, ctx: ServeContext, ct: GrpcWebContentType, spec: MethodSpec | undefined): void {
  const { path, headers } = req;
  const o = ctx.options;
  const out = new HeaderList();
  out.set("content-type", grpcWebResponseContentType(ct));
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
    if (encodingRefused) out.set("grpc-accept-encoding", acceptedEncodings);
    trailersOnly(res, out, ConnectError.from(e, Code.Internal), undefined);
    return;
  }

  startStreamingCall(req, ctx, new GrpcWebResponder(res, out, ct, codec), ct.text ? "grpc-web-text" : "grpc-web", metadata, timeoutMs, {
    decodeChunk: ct.text ? new Base64Decoder() : undefined,
    unwrap: createEnvelopeUnwrapper(encoding, codec, o.maxMessageBytes),
    single: singleRequestKind(spec),
  });
}

/** A trailers-only response: status and trailers in the HTTP headers, empty body. */
function trailersOnly(res: UniversalResponseSink, h: HeaderList, error: ConnectError | undefined, trailers: Metadata | undefined): void {
  for (const [k, v] of grpcStatusEntries(error)) h.set(k, v);
  appendMetadataToHeaders(h, trailers);
  appendErrorMetadataToHeaders(h, error);
  res.respond(200, h);
}

/**
 * Writes a gRPC-Web response into its sink, which gets its head at the first of header / message / end;
 * the last frame carries the status and trailers, unless the call fails before its head (trailers-only).
 */
class GrpcWebResponder extends SinkResponder {
  constructor(
    res: UniversalResponseSink,
    headers: HeaderList,
    private readonly ct: GrpcWebContentType,
    private readonly codec: JsonCodec | undefined,
  ) {
    super(res, headers);
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
      this.res.write(encodeEnvelopePrefix(0, d.byteLength));
      return this.res.write(d);
    }
    return this.write(encodeEnvelope(0, d));
  }

  end(error: ConnectError | undefined, trailers: Metadata): void {
    if (!this.finish()) return;
    if (!this.started && error !== undefined) {
      this.started = true;
      trailersOnly(this.res, this.headers, error, trailers);
      return;
    }
    this.start();
    const block = encodeHeaderBlock(grpcStatusEntries(error), trailers, error?.metadata);
    this.write(encodeEnvelope(flagGrpcWebTrailer, block));
    this.res.end();
  }

  /** A body chunk: text mode sends each as its own padded base64 segment. */
  private write(chunk: Uint8Array): void | Promise<void> {
    return this.res.write(this.ct.text ? base64EncodeToBytes(chunk) : chunk);
  }
}
