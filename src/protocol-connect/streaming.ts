/**
 * Connect streaming calls (client, server and bidi) on the seam (src/protocol/universal.ts):
 * enveloped bodies both ways, and a final EndStreamResponse envelope (flag 0x02) carrying the status
 * and trailers. Always HTTP 200.
 *
 * The request body is consumed as it arrives, so bidi works full-duplex where the runtime streams
 * request bodies while the response is open (HTTP/2, e.g. Node's http2 server); over HTTP/1.1 clients
 * send the whole body first, and calls degrade to half-duplex.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { Metadata } from "../core/metadata.js";
import type { JsonCodec, ResolvedProtocolOptions, ServeContext } from "../protocol/options.js";
import { acceptsGzip, gzip, parseRequestEncoding, type Encoding } from "../protocol/compression.js";
import { encodeEnvelope, encodeEnvelopePrefix, flagCompressed, flagConnectEndStream, zeroCopyMinBytes } from "../protocol/envelope.js";
import { HeaderList } from "../protocol/header-list.js";
import { appendMetadataToHeaders, headersToMetadata } from "../protocol/metadata-headers.js";
import { singleRequestKind, type MethodSpec } from "../protocol/method-spec.js";
import { effectiveTimeout, parseConnectTimeout } from "../protocol/parse-timeout.js";
import { createEnvelopeUnwrapper } from "../protocol/request-stream.js";
import { responseMessage } from "../protocol/response-message.js";
import { SinkResponder, startStreamingCall } from "../protocol/streaming-call.js";
import type { UniversalRequest, UniversalResponseSink } from "../protocol/universal.js";
import { contentTypeStreamJson, contentTypeStreamProto } from "./content-type.js";
import { encodeEndStream } from "./end-stream.js";
import { connectErrorHead } from "./unary.js";

/**
 * Serves one Connect streaming call into `res`. `json` from the content type; `spec` the method's
 * schema, when the gateway has it (a unary or server-streaming method takes exactly one request
 * message). The dispatcher (src/protocol/dispatch.ts) has checked the content type and the method's
 * kind. Never throws.
 */
export function serveConnectStream(
  req: UniversalRequest,
  res: UniversalResponseSink,
  ctx: ServeContext,
  json: boolean,
  spec: MethodSpec | undefined,
): void {
  const { path, headers } = req;
  const o = ctx.options;
  let codec: JsonCodec | undefined;
  if (json) {
    codec = o.json?.(path);
    if (codec === undefined) {
      const r = connectErrorHead(new ConnectError(`JSON is not available for ${path} (the gateway has no schema for it): use application/connect+proto`, Code.InvalidArgument), 415);
      res.respond(r.status, r.headers, r.body);
      return;
    }
  }
  const contentType = json ? contentTypeStreamJson : contentTypeStreamProto;
  let metadata: Metadata;
  let timeoutMs: number | undefined;
  let encoding: Encoding | undefined;
  try {
    if (ctx.requireConnectVersion && headers.get("connect-protocol-version") !== "1") {
      throw new ConnectError("missing or unsupported Connect protocol version", Code.InvalidArgument);
    }
    encoding = parseRequestEncoding(headers.get("connect-content-encoding"));
    timeoutMs = effectiveTimeout(parseConnectTimeout(headers.get("connect-timeout-ms")), o);
    metadata = headersToMetadata(headers, o.maxMetadataBytes);
  } catch (e) {
    const h = new HeaderList();
    h.set("content-type", contentType);
    res.respond(200, h, encodeEnvelope(flagConnectEndStream, encodeEndStream(ConnectError.from(e), undefined)));
    return;
  }

  const responder = new StreamResponder(res, contentType, codec, acceptsGzip(headers.get("connect-accept-encoding")), o);
  startStreamingCall(req, ctx, responder, "connect", metadata, timeoutMs, {
    unwrap: createEnvelopeUnwrapper(encoding, codec, o.maxMessageBytes),
    single: singleRequestKind(spec),
  });
}

/**
 * Writes a Connect streaming response into its sink, which gets its head at the first of header /
 * message / end, so the service's headers make it to the wire; the last frame is the EndStreamResponse.
 * Messages keep their order even while a compression is pending.
 */
class StreamResponder extends SinkResponder {
  private tail: Promise<void> | undefined; // pending compression chain

  constructor(
    res: UniversalResponseSink,
    contentType: string,
    private readonly codec: JsonCodec | undefined,
    private readonly compress: boolean,
    private readonly o: ResolvedProtocolOptions,
  ) {
    super(res, new HeaderList());
    this.headers.set("content-type", contentType);
    if (compress) this.headers.set("connect-content-encoding", "gzip");
    this.headers.set("connect-accept-encoding", "gzip");
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
    if (this.compress && d.byteLength >= this.o.compressMinBytes) {
      const prev = this.tail;
      const p = gzip(d).then(async (z) => {
        if (prev) await prev;
        if (this.gone) return;
        await this.write(flagCompressed, z);
      });
      this.tail = p;
      return p;
    }
    if (this.tail !== undefined) {
      const p = this.tail.then(() => this.write(0, d));
      this.tail = p;
      return p;
    }
    return this.write(0, d);
  }

  end(error: ConnectError | undefined, trailers: Metadata): void {
    if (!this.finish()) return;
    this.start();
    const frame = encodeEnvelope(flagConnectEndStream, encodeEndStream(error, trailers));
    if (this.tail !== undefined) {
      void this.tail.then(() => {
        this.res.write(frame);
        this.res.end();
      });
    } else {
      this.res.write(frame);
      this.res.end();
    }
  }

  private write(flags: number, d: Uint8Array): void | Promise<void> {
    if (d.byteLength >= zeroCopyMinBytes) {
      this.res.write(encodeEnvelopePrefix(flags, d.byteLength));
      return this.res.write(d);
    }
    return this.res.write(encodeEnvelope(flags, d));
  }
}
