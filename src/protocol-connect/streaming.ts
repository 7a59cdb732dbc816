/**
 * Connect streaming calls (client, server and bidi): enveloped bodies both ways, and a final
 * EndStreamResponse envelope (flag 0x02) carrying the status and trailers. Always HTTP 200.
 *
 * The request body is consumed as it arrives, so bidi works full-duplex where the runtime streams
 * request bodies while the response is open (HTTP/2, e.g. Node's http2 server); over HTTP/1.1 clients
 * send the whole body first, and calls degrade to half-duplex.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { Call, CallHandler, CallResponder } from "../core/call.js";
import type { Metadata } from "../core/metadata.js";
import type { JsonCodec, RequestInfo, ResolvedProtocolOptions } from "../protocol/options.js";
import { acceptsGzip, gzip, parseRequestEncoding, type Encoding } from "../protocol/compression.js";
import { abortWith, linkClientSignal } from "../protocol/client-signal.js";
import { encodeEnvelope, encodeEnvelopePrefix, flagCompressed, flagConnectEndStream, zeroCopyMinBytes } from "../protocol/envelope.js";
import { appendMetadataToHeaders, headersToMetadata } from "../protocol/metadata-headers.js";
import { effectiveTimeout, parseConnectTimeout } from "../protocol/parse-timeout.js";
import { RequestStream, createEnvelopeUnwrapper } from "../protocol/request-stream.js";
import { createResponseStream, type ResponseStreamWriter } from "../protocol/response-stream.js";
import { clientCancelled, runHandler } from "../protocol/run-handler.js";
import { contentTypeStreamJson, contentTypeStreamProto } from "./content-type.js";
import { encodeEndStream } from "./end-stream.js";
import type { ConnectOptions } from "./options.js";
import { errorResponse } from "./unary.js";
import { responseMessage } from "../protocol/response-message.js";
import { singleRequestKind } from "../protocol/method-spec.js";

/** Serves one Connect streaming call. */
export async function handleConnectStreaming(
  req: Request,
  path: string,
  json: boolean,
  handler: CallHandler,
  o: ResolvedProtocolOptions,
  copts: ConnectOptions | undefined,
  info: RequestInfo | undefined,
): Promise<Response> {
  const headers = req.headers;
  const spec = o.methods?.(path);
  let codec: JsonCodec | undefined;
  if (json) {
    codec = o.json?.(path);
    if (codec === undefined) {
      return errorResponse(new ConnectError(`JSON is not available for ${path} (the gateway has no schema for it): use application/connect+proto`, Code.InvalidArgument), 415);
    }
  }
  const contentType = json ? contentTypeStreamJson : contentTypeStreamProto;
  let metadata: Metadata;
  let timeoutMs: number | undefined;
  let encoding: Encoding | undefined;
  try {
    if (copts?.requireProtocolVersion && headers.get("connect-protocol-version") !== "1") {
      throw new ConnectError("missing or unsupported Connect protocol version", Code.InvalidArgument);
    }
    encoding = parseRequestEncoding(headers.get("connect-content-encoding"));
    timeoutMs = effectiveTimeout(parseConnectTimeout(headers.get("connect-timeout-ms")), o);
    metadata = headersToMetadata(headers, o.maxMetadataBytes);
  } catch (e) {
    const h = new Headers({ "content-type": contentType });
    return new Response(encodeEnvelope(flagConnectEndStream, encodeEndStream(ConnectError.from(e), undefined)), { status: 200, headers: h });
  }

  const { ctrl, detach } = linkClientSignal(req.signal);
  const responder = new StreamResponder(ctrl, contentType, codec, acceptsGzip(headers.get("connect-accept-encoding")), o, detach);
  const requests = new RequestStream(req.body, {
    maxMessageBytes: o.maxMessageBytes,
    unwrap: createEnvelopeUnwrapper(encoding, codec, o.maxMessageBytes),
    onError: (err) => responder.fail(err),
    single: singleRequestKind(spec),
  });
  responder.requests = requests;
  const call: Call = {
    path,
    protocol: "connect",
    shape: "unknown",
    metadata,
    signal: ctrl.signal,
    timeoutMs,
    requests,
    remote: { address: info?.remoteAddress, origin: headers.get("origin") ?? undefined },
    closed: info?.closed,
  };
  runHandler(handler, call, responder, () => responder.ended);
  return responder.response;
}

/**
 * Writes a Connect streaming response. The `Response` is handed out at the first of header / message /
 * end, so the service's headers make it to the wire. Messages keep their order even while a
 * compression is pending.
 */
class StreamResponder implements CallResponder {
  ended = false;
  requests: RequestStream | undefined;
  private started = false;
  private readonly headers: Headers;
  private readonly writer: ResponseStreamWriter;
  private tail: Promise<void> | undefined; // pending compression chain
  private resolveResponse!: (r: Response) => void;
  readonly response = new Promise<Response>((r) => (this.resolveResponse = r));

  constructor(
    private readonly ctrl: AbortController,
    contentType: string,
    private readonly codec: JsonCodec | undefined,
    private readonly compress: boolean,
    private readonly o: ResolvedProtocolOptions,
    private readonly detach: () => void,
  ) {
    this.headers = new Headers();
    this.headers.set("content-type", contentType);
    if (compress) this.headers.set("connect-content-encoding", "gzip");
    this.headers.set("connect-accept-encoding", "gzip");
    this.writer = createResponseStream(o.highWaterMarkBytes, () => this.cancelled());
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
        if (this.writer.closed) return;
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
    if (this.ended) return;
    this.ended = true;
    this.detach();
    this.requests?.close();
    const frame = encodeEnvelope(flagConnectEndStream, encodeEndStream(error, trailers));
    if (this.tail !== undefined) {
      void this.tail.then(() => {
        this.writer.write(frame);
        this.writer.close();
      });
    } else {
      this.writer.write(frame);
      this.writer.close();
    }
    this.start();
  }

  /** The request stream failed (or a response message could not be converted): end with the error. */
  fail(err: ConnectError): void {
    if (this.ended) return;
    abortWith(this.ctrl, err);
    this.end(err, new Map());
  }

  private write(flags: number, d: Uint8Array): void | Promise<void> {
    if (d.byteLength >= zeroCopyMinBytes) {
      this.writer.write(encodeEnvelopePrefix(flags, d.byteLength));
      return this.writer.write(d);
    }
    return this.writer.write(encodeEnvelope(flags, d));
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
