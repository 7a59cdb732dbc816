/**
 * Request messages read from an enveloped HTTP body, on demand: the body is read only as fast as the
 * call consumes messages, so HTTP/2 flow control (or TCP) pushes back on a fast client.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { EnvelopeDecoder, flagCompressed, type Envelope } from "./envelope.js";
import { gunzip, type Encoding } from "./compression.js";
import type { JsonCodec } from "./options.js";
import { discardBody } from "./discard-body.js";

/** A chunk pre-decoder (gRPC-Web text: {@link Base64Decoder}). */
export interface ChunkDecoder {
  push(chunk: Uint8Array): Uint8Array;
  end(): Uint8Array;
}

/** Options of {@link RequestStream}. */
export interface RequestStreamOptions {
  readonly maxMessageBytes: number;
  /** Applied to each body chunk before envelope parsing. */
  readonly decodeChunk?: ChunkDecoder;
  /** Turns an envelope into the message bytes (see {@link createEnvelopeUnwrapper}). */
  readonly unwrap: (env: Envelope) => Uint8Array | Promise<Uint8Array>;
  /** Called once, before the consumer sees it, when the stream fails (the adapter ends the call). */
  readonly onError: (err: ConnectError) => void;
  /**
   * The schema's kind when the method takes exactly one request message (unary, server streaming):
   * the message is handed out only once the body has ended, and a body with none or with a second
   * one fails with UNIMPLEMENTED, as connect-es and grpc-java answer. Unset: any number of messages.
   */
  readonly single?: "unary" | "server_streaming";
}

const doneResult: IteratorReturnResult<undefined> = { done: true, value: undefined };

type Source = ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

/**
 * The request messages of an enveloped body as an async iterable. Each error it throws is a
 * ConnectError: a framing error INVALID_ARGUMENT, an oversized message RESOURCE_EXHAUSTED (before its
 * payload is buffered), a failed body read (the client went away) CANCELLED.
 */
export class RequestStream implements AsyncIterableIterator<Uint8Array> {
  private readonly decoder: EnvelopeDecoder;
  private reader: ReadableStreamDefaultReader<Uint8Array> | AsyncIterator<Uint8Array> | undefined;
  private finished = false;
  private eof = false;
  private error: ConnectError | undefined;
  private singleRead = false;

  constructor(
    private readonly source: Source | null,
    private readonly opts: RequestStreamOptions,
  ) {
    this.decoder = new EnvelopeDecoder(opts.maxMessageBytes);
  }

  async next(): Promise<IteratorResult<Uint8Array>> {
    const kind = this.opts.single;
    if (kind === undefined || this.singleRead) return this.nextMessage();
    this.singleRead = true;
    const first = await this.nextMessage();
    if (first.done && (this.error !== undefined || !this.eof)) return first; // closed meanwhile
    const second = first.done ? first : await this.nextMessage();
    if (second.done && !this.eof) return doneResult; // closed meanwhile
    if (first.done) this.failWith(new ConnectError(`protocol error: missing input message for ${kind} method`, Code.Unimplemented));
    if (!second.done) this.failWith(new ConnectError(`protocol error: received extra input message for ${kind} method`, Code.Unimplemented));
    return first;
  }

  private failWith(err: ConnectError): never {
    this.error = err;
    this.stop();
    this.opts.onError(err);
    throw err;
  }

  private async nextMessage(): Promise<IteratorResult<Uint8Array>> {
    if (this.finished) {
      if (this.error !== undefined) throw this.error;
      return doneResult;
    }
    try {
      for (;;) {
        const env = this.decoder.next();
        if (env !== undefined) {
          const m = this.opts.unwrap(env);
          const value = m instanceof Promise ? await m : m;
          if (this.finished) return doneResult; // closed meanwhile
          return { done: false, value };
        }
        if (this.eof) {
          this.decoder.end();
          this.stop();
          return doneResult;
        }
        const chunk = await this.read();
        if (this.finished) return doneResult; // closed meanwhile (the rest of the body is discarded)
        if (chunk === undefined) {
          this.eof = true;
          if (this.opts.decodeChunk) this.decoder.push(this.opts.decodeChunk.end());
        } else {
          this.decoder.push(this.opts.decodeChunk ? this.opts.decodeChunk.push(chunk) : chunk);
        }
      }
    } catch (e) {
      if (this.finished && this.error === undefined) return doneResult; // closed meanwhile
      const err =
        e instanceof ConnectError ? e : new ConnectError(`reading the request failed: ${e instanceof Error ? e.message : String(e)}`, Code.Canceled);
      this.failWith(err);
    }
  }

  /** The consumer stopped: stop reading the body. */
  return(): Promise<IteratorResult<Uint8Array>> {
    this.stop();
    return Promise.resolve(doneResult);
  }

  /** The call is over: stop reading the body; iteration ends. */
  close(): void {
    this.stop();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private async read(): Promise<Uint8Array | undefined> {
    if (this.reader === undefined) {
      if (this.source === null) return undefined;
      this.reader = this.source instanceof ReadableStream ? this.source.getReader() : this.source[Symbol.asyncIterator]();
    }
    const r = "read" in this.reader ? await this.reader.read() : await this.reader.next();
    return r.done ? undefined : r.value;
  }

  private stop(): void {
    if (this.finished) return;
    this.finished = true;
    const r = this.reader;
    if (r === undefined) return;
    if ("cancel" in r) {
      if (this.eof) r.cancel().catch(() => {});
      else discardBody(r); // keeps an HTTP/1.1 connection reusable
    } else r.return?.().catch(() => {});
  }
}

/**
 * Creates the envelope → message step shared by gRPC, gRPC-Web and Connect streaming: only the
 * compressed flag may be set (anything else, Connect's end-stream flag included, is INVALID_ARGUMENT);
 * a compressed message without a negotiated encoding is INTERNAL (as gRPC specifies); gzip is inflated
 * up to `maxMessageBytes`; JSON is converted to binary when a codec is given.
 * Uncompressed binary messages take a synchronous path.
 */
export function createEnvelopeUnwrapper(
  encoding: Encoding | undefined,
  json: JsonCodec | undefined,
  maxMessageBytes: number,
): (env: Envelope) => Uint8Array | Promise<Uint8Array> {
  return (env) => {
    if ((env.flags & ~flagCompressed) !== 0) throw new ConnectError(`protocol error: invalid request envelope flags 0x${env.flags.toString(16)}`, Code.InvalidArgument);
    if ((env.flags & flagCompressed) !== 0) {
      if (encoding === undefined) throw new ConnectError("protocol error: compressed message but no message encoding was negotiated", Code.Internal);
      const p = gunzip(env.data, maxMessageBytes);
      return json ? p.then((d) => json.requestToBinary(d)) : p;
    }
    return json ? json.requestToBinary(env.data) : env.data;
  };
}
