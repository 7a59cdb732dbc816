/**
 * The improbable-eng `grpc-websockets` protocol, server side, over any WebSocket (runtime-neutral).
 *
 * Client → server, all binary WebSocket messages:
 *   1. the request metadata as a header block (`key: value\r\n` lines, no blank terminator);
 *   2. each request message as `0x00` ‖ flags(0) ‖ uint32-BE length ‖ bytes, one per WebSocket message;
 *   3. the half-close as the single byte `0x01`.
 * Server → client: the response headers as `0x80` ‖ length ‖ header block, sent as its OWN WebSocket
 * message (the improbable client stalls otherwise); data frames `0x00` ‖ length ‖ bytes; the status
 * and trailers as a last `0x80` frame; then close 1000. Trailers always go out before the close.
 * An error before any header is a single 0x80 frame carrying headers and status (trailers-only).
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { Call, CallHandler, CallResponder } from "../core/call.js";
import { CallAbort } from "../core/call-signal.js";
import type { Metadata } from "../core/metadata.js";
import { resolveProtocolOptions, type ProtocolOptions, type ResolvedProtocolOptions } from "../protocol/options.js";
import { encodeEnvelope, encodeEnvelopePrefix, flagGrpcWebTrailer, readUint32, zeroCopyMinBytes } from "../protocol/envelope.js";
import { grpcStatusEntries } from "../protocol/grpc-status.js";
import { encodeHeaderBlock, parseHeaderBlock } from "../protocol/header-block.js";
import { MessageQueue } from "../protocol/message-queue.js";
import { effectiveTimeout, parseGrpcTimeout } from "../protocol/parse-timeout.js";
import { runHandler } from "../protocol/run-handler.js";

/** The WebSocket as the session needs it (`ws`, Deno, Workers and hono's WSContext all fit). */
export interface GrpcWebsocketsSocket {
  /** Sends one binary WebSocket message. */
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  /** Bytes queued for sending, when the runtime tells (enables backpressure). */
  readonly bufferedAmount?: number;
}

/** Options of a grpc-websockets session. */
export interface GrpcWebsocketsOptions extends ProtocolOptions {
  /** The peer, as the runtime knows it (address, and the upgrade request's Origin). */
  remote?: { address?: string; origin?: string };
  /**
   * Request bytes queued while the call does not read fast enough before the call fails with
   * RESOURCE_EXHAUSTED (a WebSocket cannot be paused portably). Default 4 × maxMessageBytes.
   */
  maxQueuedRequestBytes?: number;
  /** How often a blocked writer polls `bufferedAmount`. Default 5 ms. */
  drainPollMs?: number;
  /**
   * A socket that has not sent its header frame after this long is ended (DEADLINE_EXCEEDED): no call
   * counts it yet, so idle sockets would otherwise be held without limit. Default 10 000 ms; 0 = never.
   */
  headerTimeoutMs?: number;
}

/** What the runtime glue feeds the session with. */
export interface GrpcWebsocketsSession {
  /** One WebSocket message from the client. Never throws. */
  onMessage(data: ArrayBuffer | Uint8Array | string): void;
  /** The WebSocket closed (client close, abort or error). The call's signal aborts at once. */
  onClose(code?: number, reason?: string): void;
}

/** The content type announced in the response header frame. */
const responseContentType = "application/grpc-web+proto";

const enum Phase {
  Header,
  Open,
  HalfClosed,
  Done,
}

/**
 * Creates the session of one WebSocket (one call, to `path`). Feed it every message and the close.
 * Full-duplex: response messages flow while requests still arrive.
 */
export function createGrpcWebsocketsSession(
  socket: GrpcWebsocketsSocket,
  path: string,
  handler: CallHandler,
  opts?: GrpcWebsocketsOptions,
): GrpcWebsocketsSession {
  return new Session(socket, path, handler, opts);
}

class Session implements GrpcWebsocketsSession, CallResponder {
  private phase = Phase.Header;
  private headerSent = false;
  private ended = false;
  private readonly ctrl = new CallAbort();
  private readonly o: ResolvedProtocolOptions;
  private readonly queue: MessageQueue;
  private drainWait: Promise<void> | undefined;
  private drainWake: (() => void) | undefined;
  private drainTimer: ReturnType<typeof setTimeout> | undefined;
  private headerTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly socket: GrpcWebsocketsSocket,
    private readonly path: string,
    private readonly handler: CallHandler,
    private readonly opts: GrpcWebsocketsOptions | undefined,
  ) {
    this.o = resolveProtocolOptions(opts);
    this.queue = new MessageQueue(opts?.maxQueuedRequestBytes ?? 4 * this.o.maxMessageBytes);
    const headerMs = opts?.headerTimeoutMs ?? 10_000;
    if (headerMs > 0) {
      this.headerTimer = setTimeout(() => {
        this.headerTimer = undefined;
        if (this.phase === Phase.Header) this.end(new ConnectError(`protocol error: no header frame within ${headerMs} ms`, Code.DeadlineExceeded), new Map());
      }, headerMs);
    }
  }

  private clearHeaderTimer(): void {
    if (this.headerTimer !== undefined) clearTimeout(this.headerTimer);
    this.headerTimer = undefined;
  }

  onMessage(data: ArrayBuffer | Uint8Array | string): void {
    if (this.phase === Phase.Done) return;
    try {
      this.receive(data);
    } catch (e) {
      this.fail(ConnectError.from(e, Code.InvalidArgument));
    }
  }

  onClose(code?: number, reason?: string): void {
    this.clearHeaderTimer();
    if (this.phase === Phase.Done) return;
    this.phase = Phase.Done;
    this.ended = true;
    const err = new ConnectError(`the client closed the WebSocket${code !== undefined ? ` (${code}${reason ? " " + reason : ""})` : ""}`, Code.Canceled);
    this.ctrl.abort(err);
    this.queue.fail(err);
    this.stopDrain();
  }

  // --- client → server

  private receive(data: ArrayBuffer | Uint8Array | string): void {
    if (typeof data === "string") throw new ConnectError("protocol error: text WebSocket message (grpc-websockets frames are binary)", Code.InvalidArgument);
    let b: Uint8Array;
    if (data instanceof Uint8Array) b = data;
    else if (data instanceof ArrayBuffer) b = new Uint8Array(data);
    else if (ArrayBuffer.isView(data)) b = new Uint8Array((data as ArrayBufferView).buffer, (data as ArrayBufferView).byteOffset, (data as ArrayBufferView).byteLength);
    else throw new ConnectError("protocol error: unsupported WebSocket message type (set binaryType to arraybuffer)", Code.InvalidArgument);

    if (this.phase === Phase.Header) {
      this.start(b);
      return;
    }
    if (b.byteLength === 1 && b[0] === 0x01) {
      if (this.phase === Phase.Open) {
        this.phase = Phase.HalfClosed;
        this.queue.end();
      }
      return;
    }
    if (this.phase === Phase.HalfClosed) throw new ConnectError("protocol error: message after half-close", Code.InvalidArgument);
    if (b.byteLength < 6 || b[0] !== 0x00) throw new ConnectError("protocol error: malformed grpc-websockets frame", Code.InvalidArgument);
    const flags = b[1]!;
    if (flags !== 0) {
      throw (flags & 0x01) !== 0
        ? new ConnectError("protocol error: compressed messages are not supported over grpc-websockets", Code.Unimplemented)
        : new ConnectError(`protocol error: invalid message flags 0x${flags.toString(16)}`, Code.InvalidArgument);
    }
    const length = readUint32(b, 2);
    if (length > this.o.maxMessageBytes) {
      throw new ConnectError(`message of ${length} bytes is larger than the limit of ${this.o.maxMessageBytes} bytes`, Code.ResourceExhausted);
    }
    if (length !== b.byteLength - 6) throw new ConnectError("protocol error: message length does not match the WebSocket message", Code.InvalidArgument);
    const err = this.queue.push(b.subarray(6));
    if (err !== undefined) this.fail(err);
  }

  private start(block: Uint8Array): void {
    this.clearHeaderTimer();
    const parsed = parseHeaderBlock(block, this.o.maxMetadataBytes);
    const ct = parsed.protocol.get("content-type");
    if (ct !== undefined && /json|-text/i.test(ct)) throw new ConnectError(`unsupported content-type ${ct} over grpc-websockets`, Code.InvalidArgument);
    const timeoutMs = effectiveTimeout(parseGrpcTimeout(parsed.protocol.get("grpc-timeout")), this.o);
    this.phase = Phase.Open;
    const call: Call = {
      path: this.path,
      protocol: "grpc-websockets",
      shape: "unknown",
      metadata: parsed.metadata,
      signal: this.ctrl.signal,
      timeoutMs,
      requests: this.queue,
      remote: { address: this.opts?.remote?.address, origin: this.opts?.remote?.origin },
    };
    runHandler(this.handler, call, this, () => this.ended);
  }

  /** A protocol error or overflow: the call ends with `err`, the service is told through the signal. */
  private fail(err: ConnectError): void {
    if (this.ended) return;
    this.ctrl.abort(err);
    this.queue.fail(err);
    this.end(err, new Map());
  }

  // --- server → client (CallResponder)

  header(md: Metadata): void {
    if (this.ended || this.headerSent) return;
    this.headerSent = true;
    const block = encodeHeaderBlock([["content-type", responseContentType]], md);
    this.send(encodeEnvelope(flagGrpcWebTrailer, block)); // its own WebSocket message
  }

  message(data: Uint8Array): void | Promise<void> {
    if (this.ended) return;
    if (!this.headerSent) this.header(new Map());
    if (data.byteLength >= zeroCopyMinBytes) {
      this.send(encodeEnvelopePrefix(0, data.byteLength));
      this.send(data);
    } else {
      this.send(encodeEnvelope(0, data));
    }
    if (this.ended) return;
    const buffered = this.socket.bufferedAmount;
    if (buffered !== undefined && buffered > this.o.highWaterMarkBytes) return this.drain();
  }

  end(error: ConnectError | undefined, trailers: Metadata): void {
    this.clearHeaderTimer();
    if (this.ended) return;
    this.ended = true;
    this.phase = Phase.Done;
    const first = grpcStatusEntries(error);
    if (!this.headerSent) first.unshift(["content-type", responseContentType]); // trailers-only
    const block = encodeHeaderBlock(first, trailers, error?.metadata);
    this.send(encodeEnvelope(flagGrpcWebTrailer, block));
    try {
      this.socket.close(1000);
    } catch {
      // already closing
    }
    this.queue.end();
    this.stopDrain();
  }

  private send(data: Uint8Array): void {
    try {
      this.socket.send(data);
    } catch {
      this.onClose(1006, "send failed");
    }
  }

  private drain(): Promise<void> {
    if (this.drainWait === undefined) {
      this.drainWait = new Promise<void>((r) => (this.drainWake = r));
      this.drainTimer = setTimeout(this.pollDrain, this.opts?.drainPollMs ?? 5);
    }
    return this.drainWait;
  }

  private readonly pollDrain = (): void => {
    this.drainTimer = undefined;
    if (this.phase === Phase.Done || (this.socket.bufferedAmount ?? 0) <= this.o.highWaterMarkBytes) {
      this.stopDrain();
      return;
    }
    this.drainTimer = setTimeout(this.pollDrain, this.opts?.drainPollMs ?? 5);
  };

  private stopDrain(): void {
    if (this.drainTimer !== undefined) clearTimeout(this.drainTimer);
    this.drainTimer = undefined;
    const wake = this.drainWake;
    this.drainWait = undefined;
    this.drainWake = undefined;
    wake?.();
  }
}
