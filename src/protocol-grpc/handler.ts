/**
 * Native gRPC over HTTP/2 (h2c or TLS), Node only: one `ServerHttp2Stream` becomes one Call. Status and
 * trailers go out as real HTTP/2 trailers; an error before any header is a trailers-only response
 * (one HEADERS frame with END_STREAM). Full-duplex: request messages are read as the call consumes them.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerHttp2Stream } from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Call, CallHandler, CallResponder } from "../core/call.js";
import type { Metadata } from "../core/metadata.js";
import { resolveProtocolOptions, type JsonCodec, type ProtocolOptions, type RequestInfo } from "../protocol/options.js";
import { abortWith } from "../protocol/client-signal.js";
import { acceptedEncodings, parseRequestEncoding, type Encoding } from "../protocol/compression.js";
import { encodeEnvelope, encodeEnvelopePrefix, zeroCopyMinBytes } from "../protocol/envelope.js";
import { grpcStatusEntries } from "../protocol/grpc-status.js";
import { MetadataCollector, isProtocolHeader, isValidMetadataKey, isValidMetadataValue } from "../protocol/metadata-headers.js";
import { effectiveTimeout, parseGrpcTimeout } from "../protocol/parse-timeout.js";
import { RequestStream, createEnvelopeUnwrapper } from "../protocol/request-stream.js";
import { clientCancelled, runHandler } from "../protocol/run-handler.js";
import { responseMessage } from "../protocol/response-message.js";
import { singleRequestKind } from "../protocol/method-spec.js";
import { whenDrained } from "./when-drained.js";

const contentTypeRe = /^application\/grpc(?:\+(proto|json))?(?:\s*;.*)?$/i;

/** True for a native gRPC content type (`application/grpc`, `+proto`, `+json`; not gRPC-Web). */
export function isGrpcContentType(value: string | undefined | null): boolean {
  return value != null && contentTypeRe.test(value);
}

/**
 * Serves one native gRPC call on an HTTP/2 stream (`headers` as the 'stream' event or
 * `Http2ServerRequest.headers` give them). It takes the stream over: when it came from a compat
 * request (`req.stream`), that request's `res` must not be used. Never throws.
 */
export function handleGrpcStream(
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  handler: CallHandler,
  opts?: ProtocolOptions,
  info?: RequestInfo,
): void {
  stream.on("error", () => {}); // a reset stream reports here; the 'close' handler does the rest
  stream.removeAllListeners("wantTrailers"); // the compat response's (it would send empty trailers)
  const m = contentTypeRe.exec(String(headers["content-type"] ?? ""));
  if (m === null) {
    respondPlain(stream, 415);
    return;
  }
  if (headers[":method"] !== "POST") {
    respondPlain(stream, 405);
    return;
  }
  const json = m[1]?.toLowerCase() === "json";
  const contentType = json ? "application/grpc+json" : "application/grpc+proto";
  const o = resolveProtocolOptions(opts);
  const path = info?.path ?? String(headers[":path"] ?? "/").split("?")[0]!;
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
    encoding = parseRequestEncoding(single(headers["grpc-encoding"]) ?? null);
    encodingRefused = false;
    timeoutMs = effectiveTimeout(parseGrpcTimeout(single(headers["grpc-timeout"])), o);
    const c = new MetadataCollector(o.maxMetadataBytes);
    for (const key in headers) {
      if (key.charCodeAt(0) === 0x3a /* ":" */) continue;
      const v = headers[key];
      if (v === undefined) continue;
      if (typeof v === "string") c.add(key, v);
      else for (const s of v) c.add(key, s);
    }
    metadata = c.metadata;
  } catch (e) {
    const r = new GrpcResponder(stream, contentType, undefined, new AbortController());
    // gRPC's compression spec: UNIMPLEMENTED with the encodings the server accepts.
    if (encodingRefused) r.acceptEncoding = acceptedEncodings;
    r.end(ConnectError.from(e, Code.Internal), new Map());
    return;
  }

  const ctrl = new AbortController();
  const responder = new GrpcResponder(stream, contentType, codec, ctrl);
  const requests = new RequestStream(
    { [Symbol.asyncIterator]: () => stream.iterator({ destroyOnReturn: false }) as AsyncIterator<Uint8Array> },
    {
      maxMessageBytes: o.maxMessageBytes,
      unwrap: createEnvelopeUnwrapper(encoding, codec, o.maxMessageBytes),
      onError: (err) => responder.fail(err),
      single: singleRequestKind(o.methods?.(path)),
    },
  );
  responder.requests = requests;
  stream.once("close", () => responder.closed());
  // A client's RST_STREAM also ends the request body cleanly (Node pushes EOF after emitting
  // 'aborted'): abort first, so a reset never reads as a half-close (which would open the call).
  stream.once("aborted", () => responder.closed());
  const call: Call = {
    path,
    protocol: "grpc",
    shape: "unknown",
    metadata,
    signal: ctrl.signal,
    timeoutMs,
    requests,
    remote: { address: info?.remoteAddress ?? stream.session?.socket?.remoteAddress, origin: single(headers["origin"]) },
    closed: stream.destroyed ? Promise.resolve() : new Promise<void>((resolve) => stream.once("close", () => resolve())),
  };
  runHandler(handler, call, responder, () => responder.ended);
}

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function respondPlain(stream: ServerHttp2Stream, status: number): void {
  if (stream.destroyed || stream.headersSent) return;
  stream.respond({ ":status": status }, { endStream: true });
}

/** Metadata → Node outgoing headers (protocol keys, invalid keys and values skipped). */
function addHeaders(target: OutgoingHttpHeaders, md: Metadata | Headers | undefined): void {
  if (md === undefined) return;
  if (md instanceof Headers) {
    md.forEach((v, k) => {
      if (!isProtocolHeader(k) && isValidMetadataValue(v)) appendHeader(target, k, v);
    });
    return;
  }
  for (const [k, values] of md) {
    if (isProtocolHeader(k) || !isValidMetadataKey(k)) continue;
    for (const v of values) if (isValidMetadataValue(v)) appendHeader(target, k, v);
  }
}

function appendHeader(target: OutgoingHttpHeaders, k: string, v: string): void {
  const cur = target[k];
  if (cur === undefined) target[k] = v;
  else if (Array.isArray(cur)) cur.push(v);
  else target[k] = [String(cur), v];
}

function newHeaders(): OutgoingHttpHeaders {
  return Object.create(null) as OutgoingHttpHeaders; // "__proto__" stays a plain key
}

/** Writes a gRPC response on the stream. */
class GrpcResponder implements CallResponder {
  ended = false;
  requests: RequestStream | undefined;
  private trailers: OutgoingHttpHeaders | undefined;
  /** Sent as `grpc-accept-encoding` with the status (set when the request's encoding was refused). */
  acceptEncoding: string | undefined;
  private drainWait: Promise<void> | undefined;

  constructor(
    private readonly stream: ServerHttp2Stream,
    private readonly contentType: string,
    private readonly codec: JsonCodec | undefined,
    private readonly ctrl: AbortController,
  ) {}

  header(md: Metadata): void {
    if (this.ended || this.stream.headersSent || this.stream.destroyed) return;
    const h = newHeaders();
    h[":status"] = 200;
    h["content-type"] = this.contentType;
    addHeaders(h, md);
    this.stream.respond(h, { waitForTrailers: true });
    this.stream.once("wantTrailers", () => {
      if (!this.stream.destroyed) this.stream.sendTrailers(this.trailers ?? { "grpc-status": "0" });
    });
  }

  message(data: Uint8Array): void | Promise<void> {
    if (this.ended || this.stream.destroyed) return;
    if (!this.stream.headersSent) this.header(new Map());
    const d = responseMessage(this.codec, data);
    if (d instanceof ConnectError) {
      this.fail(d);
      return;
    }
    let ok: boolean;
    if (d.byteLength >= zeroCopyMinBytes) {
      this.stream.write(encodeEnvelopePrefix(0, d.byteLength));
      ok = this.stream.write(d);
    } else {
      ok = this.stream.write(encodeEnvelope(0, d));
    }
    if (ok) return;
    return (this.drainWait ??= whenDrained(this.stream).then(() => {
      this.drainWait = undefined;
    }));
  }

  end(error: ConnectError | undefined, trailers: Metadata): void {
    if (this.ended) return;
    this.ended = true;
    this.requests?.close();
    if (this.stream.destroyed) return;
    const t = newHeaders();
    for (const [k, v] of grpcStatusEntries(error)) t[k] = v;
    if (this.acceptEncoding !== undefined) t["grpc-accept-encoding"] = this.acceptEncoding;
    addHeaders(t, trailers);
    addHeaders(t, error?.metadata);
    if (!this.stream.headersSent) {
      // trailers-only
      t[":status"] = 200;
      t["content-type"] = this.contentType;
      this.stream.respond(t, { endStream: true });
    } else {
      this.trailers = t;
      this.stream.end();
    }
    // Whatever the client still sends is read and dropped, so the stream can close.
    if (!this.stream.readableEnded) this.stream.resume();
  }

  /** The request stream failed: end with the error. */
  fail(err: ConnectError): void {
    if (this.ended) return;
    abortWith(this.ctrl, err);
    this.end(err, new Map());
  }

  /** The stream closed: if the call was still running, the client went away (RST_STREAM or disconnect). */
  closed(): void {
    if (this.ended) return;
    this.ended = true;
    abortWith(this.ctrl, clientCancelled("the client reset the stream"));
    this.requests?.close();
  }
}
