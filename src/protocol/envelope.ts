/**
 * Length-prefixed message framing shared by gRPC, gRPC-Web and Connect streaming:
 * one flags byte, a uint32 big-endian length, then the payload.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { allocMessage } from "./message-buffer.js";

/** One framed message. */
export interface Envelope {
  readonly flags: number;
  readonly data: Uint8Array;
}

/** Flag bit 0: the payload is compressed with the negotiated encoding (all protocols). */
export const flagCompressed = 0x01;
/** Flag of Connect's final EndStreamResponse envelope. */
export const flagConnectEndStream = 0x02;
/** Flag of gRPC-Web's (and grpc-websockets') header and trailer frames. */
export const flagGrpcWebTrailer = 0x80;

/** Size of the envelope prefix. */
export const envelopePrefixBytes = 5;

/** Payloads at least this large are sent as a separate chunk after their prefix instead of being copied. */
export const zeroCopyMinBytes = 16 * 1024;

/** Encodes one envelope into a new buffer (prefix + a copy of the payload). */
export function encodeEnvelope(flags: number, data: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(envelopePrefixBytes + data.byteLength);
  writePrefix(out, flags, data.byteLength);
  out.set(data, envelopePrefixBytes);
  return out;
}

/** Encodes only the 5-byte prefix (for writers that send a large payload as its own chunk). */
export function encodeEnvelopePrefix(flags: number, length: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(envelopePrefixBytes);
  writePrefix(out, flags, length);
  return out;
}

function writePrefix(out: Uint8Array, flags: number, length: number): void {
  out[0] = flags;
  out[1] = length >>> 24;
  out[2] = length >>> 16;
  out[3] = length >>> 8;
  out[4] = length;
}

/** Reads a uint32 big-endian at `i`. */
export function readUint32(b: Uint8Array, i: number): number {
  return ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
}

const empty = new Uint8Array(0);

/**
 * An incremental envelope parser. Feed it chunks as they arrive ({@link push}) and take envelopes out
 * ({@link next}) until it returns undefined, then push the next chunk. An envelope that lies within one
 * chunk is returned as a `subarray` (no copy); one split across chunks is assembled into a buffer of
 * exactly its length (with spare bytes in front, see src/protocol/message-buffer.ts). A declared length above `maxMessageBytes` fails with RESOURCE_EXHAUSTED as soon
 * as the prefix is read, before any of the payload is buffered.
 *
 * Every error it throws is a {@link ConnectError}.
 */
export class EnvelopeDecoder {
  private chunk: Uint8Array = empty;
  private pos = 0;
  private readonly prefix = new Uint8Array(envelopePrefixBytes);
  private prefixFill = 0;
  private body: Uint8Array | undefined;
  private bodyFill = 0;
  private flags = 0;

  constructor(private readonly maxMessageBytes: number) {}

  /** Adds a chunk. Call only after {@link next} returned undefined (the previous chunk is used up). */
  push(chunk: Uint8Array): void {
    if (this.pos < this.chunk.byteLength) throw new ConnectError("envelope decoder: push before the previous chunk was consumed", Code.Internal);
    this.chunk = chunk;
    this.pos = 0;
  }

  /** The next complete envelope, or undefined when more bytes are needed. */
  next(): Envelope | undefined {
    const chunk = this.chunk;
    let avail = chunk.byteLength - this.pos;
    if (this.body === undefined) {
      let length: number;
      if (this.prefixFill === 0 && avail >= envelopePrefixBytes) {
        this.flags = chunk[this.pos]!;
        length = readUint32(chunk, this.pos + 1);
        this.pos += envelopePrefixBytes;
        avail -= envelopePrefixBytes;
      } else {
        if (avail === 0) return undefined;
        const n = Math.min(envelopePrefixBytes - this.prefixFill, avail);
        this.prefix.set(chunk.subarray(this.pos, this.pos + n), this.prefixFill);
        this.prefixFill += n;
        this.pos += n;
        avail -= n;
        if (this.prefixFill < envelopePrefixBytes) return undefined;
        this.prefixFill = 0;
        this.flags = this.prefix[0]!;
        length = readUint32(this.prefix, 1);
      }
      if (length > this.maxMessageBytes) {
        this.chunk = empty; // unusable from here on
        this.pos = 0;
        throw new ConnectError(`message of ${length} bytes is larger than the limit of ${this.maxMessageBytes} bytes`, Code.ResourceExhausted);
      }
      if (avail >= length) {
        const data = chunk.subarray(this.pos, this.pos + length);
        this.pos += length;
        return { flags: this.flags, data };
      }
      this.body = allocMessage(length); // room for the nrpc header in front: published without another copy
      this.bodyFill = 0;
    }
    const body = this.body;
    const n = Math.min(body.byteLength - this.bodyFill, avail);
    if (n > 0) {
      body.set(chunk.subarray(this.pos, this.pos + n), this.bodyFill);
      this.bodyFill += n;
      this.pos += n;
    }
    if (this.bodyFill < body.byteLength) return undefined;
    this.body = undefined;
    return { flags: this.flags, data: body };
  }

  /** True when an envelope has been started but not completed. */
  get partial(): boolean {
    return this.prefixFill > 0 || this.body !== undefined || this.pos < this.chunk.byteLength;
  }

  /** Call at end of input: throws INVALID_ARGUMENT if it stopped inside an envelope. */
  end(): void {
    if (this.partial) throw new ConnectError("protocol error: premature end of stream inside a message", Code.InvalidArgument);
  }
}

/**
 * Parses a byte stream into envelopes, as an async iterable. The source is a fetch body
 * (ReadableStream) or any async iterable of byte chunks (a Node stream). Errors are ConnectErrors.
 */
export async function* readEnvelopes(
  source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
  maxMessageBytes: number,
): AsyncGenerator<Envelope, void, undefined> {
  const decoder = new EnvelopeDecoder(maxMessageBytes);
  for await (const chunk of chunksOf(source)) {
    decoder.push(chunk);
    let env: Envelope | undefined;
    while ((env = decoder.next()) !== undefined) yield env;
  }
  decoder.end();
}

/** A TransformStream from bytes to envelopes (same rules as {@link EnvelopeDecoder}). */
export function createEnvelopeDecoderStream(maxMessageBytes: number): TransformStream<Uint8Array, Envelope> {
  const decoder = new EnvelopeDecoder(maxMessageBytes);
  return new TransformStream<Uint8Array, Envelope>({
    transform(chunk, controller) {
      decoder.push(chunk);
      let env: Envelope | undefined;
      while ((env = decoder.next()) !== undefined) controller.enqueue(env);
    },
    flush() {
      decoder.end();
    },
  });
}

/** Iterates a ReadableStream through its reader (portable: not every runtime makes streams async-iterable). */
export async function* chunksOf(source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array, void, undefined> {
  if (!(source instanceof ReadableStream)) {
    yield* source;
    return;
  }
  const reader = source.getReader();
  let done = false;
  try {
    for (;;) {
      const r = await reader.read();
      if (r.done) {
        done = true;
        return;
      }
      yield r.value;
    }
  } finally {
    if (!done) reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
