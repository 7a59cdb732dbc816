/**
 * Native gRPC on the seam ({@link UniversalRequest} in, {@link UniversalResponseSink} out):
 * runtime-neutral, served where the transport sends HTTP trailers (the Node converter over HTTP/2,
 * `src/runtime/node/`). Status and trailers go out as real trailers; an error before any header is
 * a trailers-only response (on HTTP/2 one HEADERS frame with END_STREAM). Full-duplex: request
 * messages are read as the call consumes them.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { Call, CallResponder } from "../core/call.js";
import { CallAbort } from "../core/call-signal.js";
import type { Metadata } from "../core/metadata.js";
import type { JsonCodec, ServeContext } from "../protocol/options.js";
import { watchClient } from "../protocol/client-signal.js";
import { acceptedEncodings, parseRequestEncoding, type Encoding } from "../protocol/compression.js";
import { encodeEnvelope, encodeEnvelopePrefix, zeroCopyMinBytes } from "../protocol/envelope.js";
import { grpcStatusEntries } from "../protocol/grpc-status.js";
import { HeaderList } from "../protocol/header-list.js";
import { appendErrorMetadataToHeaders, appendMetadataToHeaders, headersToMetadata } from "../protocol/metadata-headers.js";
import { effectiveTimeout, parseGrpcTimeout } from "../protocol/parse-timeout.js";
import { RequestStream, createEnvelopeUnwrapper } from "../protocol/request-stream.js";
import { clientCancelled, runHandler } from "../protocol/run-handler.js";
import { responseMessage } from "../protocol/response-message.js";
import { singleRequestKind } from "../protocol/method-spec.js";
import type { UniversalRequest, UniversalResponseSink } from "../protocol/universal.js";
import { grpcContentTypeRe } from "./content-type.js";

export { isGrpcContentType } from "./content-type.js";

/** What {@link serveGrpc} serves with: the call handler (the Director behind the call limits) and the protocol options. */
export type GrpcServeContext = ServeContext;

/**
 * Serves one native gRPC call: a content type that is not gRPC gets 415, a method other than POST
 * 405; everything else HTTP 200 and a gRPC status in the trailers. Never throws.
 */
export function serveGrpc(req: UniversalRequest, res: UniversalResponseSink, ctx: GrpcServeContext): void {
  const { headers, path } = req;
  const m = grpcContentTypeRe.exec(headers.get("content-type") ?? "");
  if (m === null) return res.respond(415, new HeaderList());
  if (req.method !== "POST") return res.respond(405, new HeaderList());
  const json = m[1]?.toLowerCase() === "json";
  const contentType = json ? "application/grpc+json" : "application/grpc+proto";
  const o = ctx.options;
  let codec: JsonCodec | undefined;
  let metadata: Metadata;
  let timeoutMs: number | undefined;
  let encoding: Encoding | undefined;
  let encodingRefused = false;
  try {
    if (json) {
      codec = o.json?.(path);
      if (codec === undefined) throw new ConnectError(`JSON is not available for ${path} (the gateway has no schema for it): use +proto`, Code.InvalidArgument);
    }
    encodingRefused = true;
    encoding = parseRequestEncoding(headers.get("grpc-encoding"));
    encodingRefused = false;
    timeoutMs = effectiveTimeout(parseGrpcTimeout(headers.get("grpc-timeout") ?? undefined), o);
    metadata = headersToMetadata(headers, o.maxMetadataBytes);
  } catch (e) {
    const r = new GrpcResponder(res, contentType, undefined, new CallAbort());
    // gRPC's compression spec: UNIMPLEMENTED with the encodings the server accepts.
    if (encodingRefused) r.acceptEncoding = acceptedEncodings;
    r.end(ConnectError.from(e, Code.Internal), new Map());
    return;
  }

  const ctrl = new CallAbort();
  const responder = new GrpcResponder(res, contentType, codec, ctrl);
  const requests = new RequestStream(req.body, {
    maxMessageBytes: o.maxMessageBytes,
    unwrap: createEnvelopeUnwrapper(encoding, codec, o.maxMessageBytes),
    onError: (err) => responder.fail(err),
    single: singleRequestKind(o.methods?.(path)),
  });
  responder.requests = requests;
  responder.stopWatching = watchClient(req.signal, () => responder.closed());
  const call: Call = {
    path,
    protocol: "grpc",
    shape: "unknown",
    metadata,
    signal: ctrl.signal,
    timeoutMs,
    requests,
    remote: { address: req.remoteAddress, origin: headers.get("origin") ?? undefined },
    closed: req.closed,
  };
  runHandler(ctx.handler, call, responder, () => responder.ended);
}

/** Writes a gRPC response into the sink. */
class GrpcResponder implements CallResponder {
  ended = false;
  requests: RequestStream | undefined;
  stopWatching: () => void = noop;
  /** Sent as `grpc-accept-encoding` with the status (set when the request's encoding was refused). */
  acceptEncoding: string | undefined;
  private headerSent = false;

  constructor(
    private readonly res: UniversalResponseSink,
    private readonly contentType: string,
    private readonly codec: JsonCodec | undefined,
    private readonly ctrl: CallAbort,
  ) {}

  header(md: Metadata): void {
    if (this.ended || this.headerSent) return;
    this.headerSent = true;
    const h = new HeaderList();
    h.append("content-type", this.contentType);
    appendMetadataToHeaders(h, md);
    this.res.head(200, h);
  }

  message(data: Uint8Array): void | Promise<void> {
    if (this.ended) return;
    if (!this.headerSent) this.header(new Map());
    const d = responseMessage(this.codec, data);
    if (d instanceof ConnectError) {
      this.fail(d);
      return;
    }
    if (d.byteLength >= zeroCopyMinBytes) {
      this.res.write(encodeEnvelopePrefix(0, d.byteLength));
      return this.res.write(d);
    }
    return this.res.write(encodeEnvelope(0, d));
  }

  end(error: ConnectError | undefined, trailers: Metadata): void {
    if (this.ended) return;
    this.ended = true;
    this.stopWatching();
    this.requests?.close();
    const t = new HeaderList();
    if (!this.headerSent) t.append("content-type", this.contentType); // trailers-only
    for (const [k, v] of grpcStatusEntries(error)) t.append(k, v);
    if (this.acceptEncoding !== undefined) t.append("grpc-accept-encoding", this.acceptEncoding);
    appendMetadataToHeaders(t, trailers);
    appendErrorMetadataToHeaders(t, error);
    if (this.headerSent) this.res.end(t);
    else this.res.respond(200, t);
  }

  /** The request stream failed: end with the error. */
  fail(err: ConnectError): void {
    if (this.ended) return;
    this.ctrl.abort(err);
    this.end(err, new Map());
  }

  /** The client went away (RST_STREAM or disconnect) while the call was running. */
  closed(): void {
    if (this.ended) return;
    this.ended = true;
    this.stopWatching();
    this.ctrl.abort(clientCancelled("the client reset the stream"));
    this.requests?.close();
  }
}

function noop(): void {}
