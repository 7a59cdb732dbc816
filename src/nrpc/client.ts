/**
 * nats-grpc client: opens calls to one node (`nrpc.<nid>.<pkg.Service>.<Method>`), all four kinds,
 * on raw bytes. Deadlines and cancellation are the client's job (nothing on the wire carries them):
 * on timeout or abort it sends `End{status}` and releases the inbox at once.
 *
 * No message is dropped in silence: a request message whose envelope is larger than the NATS
 * server's `max_payload` ends its call RESOURCE_EXHAUSTED before it is published (the server hears
 * `End{RESOURCE_EXHAUSTED}`), and an envelope nats.js refuses later ends its call with a status.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { Msg, NatsConnection } from "@nats-io/nats-core";
import type { Metadata } from "../core/metadata.js";
import { endedBy, MaxPayloadError, NatsUnavailableError, NeverReachedError, NodeDownError, NotServedError, StoppedAnsweringError, type NrpcReason } from "./errors.js";
import { decodeResponse, encodeCall, encodeData, encodeRequestEnd, fromWireMetadata, largestDataMessage } from "./envelope.js";
import { InboxMux } from "./inbox.js";
import { Outbox, type PublishErrorHandler } from "./outbox.js";
import { callSubject } from "./subject.js";
import { hopRecorder } from "./bench-hooks.js";

/** What a client stream reports, in order: [header], message*, end (exactly once). */
export interface ClientStreamEvents {
  /** Response headers (nrpc Begin). `nid` is the serving node's id. Optional: may never come. */
  onHeader?(md: Metadata, nid: string): void;
  /** One response message (an empty Data is an empty message, not EOF). */
  onMessage(data: Uint8Array): void;
  /** The call is over: error undefined = OK. Called exactly once. */
  onEnd(error: ConnectError | undefined, trailers: Metadata): void;
}

/** Options of one call. */
export interface CallOptions {
  /** Request metadata, sent in the Call envelope. */
  metadata?: Metadata;
  /** Ends the call with DEADLINE_EXCEEDED after this many ms (and tells the server). */
  timeoutMs?: number;
  /** Aborting ends the call with CANCELLED (and tells the server). */
  signal?: AbortSignal;
  /** This call's hold-back of a half-close sent before any response (default: the client's). */
  halfCloseDelayMs?: number;
  /**
   * The call sends exactly one request message (unary, server streaming): its half-close waits until
   * the node has answered (Begin, Data or End), and is never sent if the call ends first. Handlers of
   * such methods read one message and never wait for the End; sent early, it can overtake the request
   * at a Go node (spec §1.10: the request is dropped, the call ends `EOF`).
   */
  singleRequest?: boolean;
  /**
   * The node is a Go nats-grpc v1.0.0 node (see {@link goPacing}): every envelope after the first
   * request message is sent {@link NrpcClientOptions.goFrameGapMs} after the previous one, and an
   * empty request message is sent as {@link goEmptyMessage}.
   */
  goNode?: boolean;
}

/** One open call. */
export interface ClientStream {
  /** The reply subject of this call. */
  readonly inbox: string;
  /** True once the call has ended (any reason). */
  readonly ended: boolean;
  /**
   * True once any response envelope (Begin, Data or End) arrived: the call reached a server. Why a call
   * that did not ended is its error's `cause` (src/nrpc/errors.ts: never reached, not served, ...).
   */
  readonly reached: boolean;
  /** Sends one request message. Ignored after the call ended or after closeSend. */
  send(data: Uint8Array): void;
  /** Half-close: `End{}`. */
  closeSend(): void;
  /** Cancels: sends `End{status}` to the server and ends the call locally with that status. */
  cancel(code?: Code, message?: string): void;
}

/** Options of {@link NrpcClient}. */
export interface NrpcClientOptions {
  /** This process's own node id, sent as `Call.nid` (servers cancel our streams by it when we die). */
  nid: string;
  /** Inbox prefix (default `_INBOX`). */
  inboxPrefix?: string;
  /**
   * A half-close sent before any response arrived is held back this long (default 2 ms). Go
   * nats-grpc servers handle each message in its own goroutine, so an `End{}` right behind the last
   * `Data` can overtake it and the data is dropped (spec §1.10). If the call ends meanwhile (a unary
   * reply), the stale half-close is not sent at all. 0 sends it at once.
   */
  halfCloseDelayMs?: number;
  /**
   * Largest response metadata a server may send, header or trailers each (sum of key and value
   * lengths). Larger headers cancel the call (End{INTERNAL} to the server), larger trailers end it
   * INTERNAL, and a status message longer than a quarter of it is cut. Default 0: no limit.
   * The gateway passes `edge.max_metadata_bytes`: what it forwards becomes HTTP headers and
   * trailers, and clients fail on oversized ones (undici: 16 KiB; HTTP/2: a frame size error).
   */
  maxMetadataBytes?: number;
  /**
   * Gap between the envelopes of one call to a Go node ({@link CallOptions.goNode}), in ms (default
   * {@link defaultGoFrameGapMs}). The gateway passes `edge.go_frame_gap_ms`.
   */
  goFrameGapMs?: number;
}

/**
 * Default gap between frames of one stream to a Go node, in ms: the spec's real Go nodes kept 30/30
 * bursts in order at 1 ms. Against the Go-behaviour model node (test/stack/gateway/go-nodes.test.ts), 2 ms
 * keeps at least 29/30 bursts of 20 in order in every protocol cell; figures and the cost (2 ms per
 * request message of a stream) in the README's "Go ION nodes".
 */
export const defaultGoFrameGapMs = 2;

/**
 * The empty request message as sent to a Go node: one unknown varint field, number 19999 = 0, bytes
 * `f8 e1 09 00`. A 0-byte message travels as `Data{}` (proto3 omits the empty `bytes` field), and
 * nats-grpc v1.0.0 reads a nil `data` as end of stream (spec §1.8). An explicitly empty field does not
 * help: protobuf-go decodes a proto3 `bytes` field with `append([]byte(nil), v...)`
 * (internal/impl/codec_gen.go, consumeBytesNoZero), which is nil for an empty value. These 4 bytes are
 * read by every protobuf decoder as the empty message: an unknown field is skipped (or kept as unknown
 * and ignored), and 19000–19999 is the range protoc refuses to declare ("reserved for the Protocol
 * Buffer implementation"), so no message can have a field that this collides with.
 */
export const goEmptyMessage: Uint8Array = Uint8Array.of(0xf8, 0xe1, 0x09, 0x00);

/** The method of the liveness probe of {@link NrpcClient.aliveWithout} (no server has it: End{12}). */
const probeMethod = "EdgeSignalLivenessProbe";
/** How long the probe waits for the node's answer. */
const probeTimeoutMs = 1000;

/** A nats-grpc client bound to one NATS connection; calls any node. */
export class NrpcClient {
  readonly nid: string;
  /** @internal */
  readonly halfCloseDelayMs: number;
  /** @internal */
  readonly maxMetadataBytes: number;
  /** @internal */
  readonly goFrameGapMs: number;
  private readonly inbox: InboxMux;
  private readonly outbox: Outbox;
  private readonly streams = new Map<string, StreamImpl>();
  /** Services each node has answered calls of (node id → full service names), see {@link aliveWithout}. */
  private readonly served = new Map<string, Set<string>>();
  private connected = true;

  constructor(
    readonly nc: NatsConnection,
    opts: NrpcClientOptions,
  ) {
    this.nid = opts.nid;
    this.halfCloseDelayMs = opts.halfCloseDelayMs ?? 2;
    this.maxMetadataBytes = opts.maxMetadataBytes ?? 0;
    this.goFrameGapMs = opts.goFrameGapMs ?? defaultGoFrameGapMs;
    this.inbox = new InboxMux(nc, opts.inboxPrefix);
    this.outbox = new Outbox(nc);
    void this.watchStatus();
  }

  /** Calls in flight. */
  get inFlight(): number {
    return this.streams.size;
  }

  /**
   * The largest request message the connected NATS server carries, its nats-grpc envelope included
   * (`max_payload` less 8 to 12 bytes); 0 while no server is known (then nothing is refused here).
   */
  get maxMessageBytes(): number {
    const max = this.outbox.maxPayload;
    return max > 0 ? largestDataMessage(max) : 0;
  }

  /** The connected NATS server's `max_payload` (0 while unknown). */
  get maxPayload(): number {
    return this.outbox.maxPayload;
  }

  /**
   * Opens a call to `method` of `service` on node `nid`. The Call envelope goes out at once (the
   * server sees the stream even before the first message), batched with the other envelopes made
   * in the same microtask chain (see {@link Outbox}): a unary call's Call and Data share one write. Events are delivered from the NATS read
   * loop, in order — never synchronously from inside `open()` (a call that cannot start ends on the
   * next microtask).
   */
  open(nid: string, service: string, method: string, opts: CallOptions, events: ClientStreamEvents): ClientStream {
    const subject = callSubject(nid, service, method);
    const s = new StreamImpl(this, subject, nid, service, events);
    s.halfCloseDelayMs = opts.halfCloseDelayMs;
    s.singleRequest = opts.singleRequest === true;
    if (opts.goNode) {
      s.goNode = true;
      s.gapMs = this.goFrameGapMs;
    }
    if (!this.connected || this.nc.isClosed() || this.nc.isDraining()) {
      s.failSoon(endedBy(new NatsUnavailableError("NATS connection is down"), Code.Unavailable));
      return s;
    }
    const callEnvelope = encodeCall(subject, this.nid, opts.metadata);
    if (!this.outbox.fits(callEnvelope)) {
      const max = this.outbox.maxPayload;
      s.failSoon(endedBy(new MaxPayloadError(`request metadata too large for NATS: the call envelope is ${callEnvelope.byteLength} bytes, the server's max_payload ${max}`, max), Code.ResourceExhausted));
      return s;
    }
    const token = this.inbox.register((msg) => s.receive(msg));
    s.attach(token, this.inbox.prefix + token);
    this.streams.set(token, s);
    if (opts.signal) {
      if (opts.signal.aborted) {
        s.failSoon(new ConnectError("call cancelled before start", Code.Canceled));
        return s;
      }
      s.watchAbort(opts.signal);
    }
    this.outbox.publish(subject, callEnvelope, s.inbox, s.onPublishError);
    s.published = 1;
    if (opts.timeoutMs !== undefined && opts.timeoutMs > 0) s.setDeadline(opts.timeoutMs);
    return s;
  }

  /** Ends every call to node `nid` with UNAVAILABLE (the node went down), telling it nothing. */
  closeStreams(nid: string, message = `node ${nid} went away`): number {
    let n = 0;
    for (const s of [...this.streams.values()]) {
      if (s.target === nid) {
        s.fail(endedBy(new NodeDownError(nid, message), Code.Unavailable));
        n++;
      }
    }
    return n;
  }

  /** Cancels every call (sends End{CANCELLED}) — for shutdown. */
  cancelAll(code = Code.Canceled, message = "gateway shutting down"): void {
    for (const s of [...this.streams.values()]) s.cancel(code, message);
  }

  /** Cancels all calls and unsubscribes the shared inbox. Does not close the connection. */
  close(): void {
    this.cancelAll();
    this.outbox.flush();
    this.inbox.close();
  }

  /** @internal Queues one envelope; if it cannot be published, `onError` ends its call. */
  publish(subject: string, data: Uint8Array, reply: string, onError?: PublishErrorHandler): void {
    this.outbox.publish(subject, data, reply, onError);
  }

  /** @internal See {@link Outbox.afterFlush}. */
  afterFlush(fn: () => void): void {
    this.outbox.afterFlush(fn);
  }

  /** @internal False when an envelope is larger than the server's max_payload. */
  fits(data: Uint8Array): boolean {
    return this.outbox.fits(data);
  }

  /**
   * @internal Resolves once NATS has answered every envelope published so far (queued ones are handed
   * over first): a PING after them, whose PONG comes after any 503 they caused.
   */
  barrier(): Promise<void> {
    this.outbox.flush();
    return this.nc.flush();
  }

  /** @internal A call to `service` on node `nid` was answered: the node serves it. */
  noteServed(nid: string, service: string): void {
    let set = this.served.get(nid);
    if (!set) {
      if (this.served.size >= 10_000) this.served.clear(); // bounded: it is only a hint
      this.served.set(nid, (set = new Set()));
    }
    if (set.size < 64) set.add(service);
  }

  /**
   * @internal Whether node `nid` is alive although nothing subscribes to `service` on it: it answers a
   * Call to an unknown method of another service it has served (Go and our servers answer that with
   * `End{12}` at once; a dead node gives "no responders"). False when we know no other service of it.
   * NATS has no subscriber for a service a node does not serve — exactly as for a dead node — so this
   * is what tells UNIMPLEMENTED from UNAVAILABLE.
   */
  async aliveWithout(nid: string, service: string): Promise<boolean> {
    let other: string | undefined;
    for (const s of this.served.get(nid) ?? []) if (s !== service) other = s;
    if (other === undefined) return false;
    const subject = callSubject(nid, other, probeMethod);
    try {
      const reply = await this.nc.request(subject, encodeCall(subject, this.nid, undefined), { timeout: probeTimeoutMs });
      return reply.data.length > 0;
    } catch {
      return false; // no responders, timeout, connection closed: not known to be alive
    }
  }

  /** @internal */
  forget(token: string): void {
    this.streams.delete(token);
    this.inbox.release(token);
  }

  private failAll(message: string): void {
    for (const s of [...this.streams.values()]) s.fail(endedBy(new NatsUnavailableError(message), Code.Unavailable));
  }

  private async watchStatus(): Promise<void> {
    void this.nc.closed().then(() => {
      this.connected = false;
      this.failAll("NATS connection closed");
    });
    try {
      for await (const st of this.nc.status()) {
        if (st.type === "disconnect") {
          this.connected = false;
          this.failAll("NATS connection lost");
        } else if (st.type === "reconnect") {
          this.connected = true;
        }
      }
    } catch {
      // iterator ends when the connection closes
    }
  }
}

const emptyMetadata: Metadata = new Map();

class StreamImpl implements ClientStream {
  inbox = "";
  ended = false;
  reached = false;
  /** Envelopes this call published (the Call included), and the 503 "no responders" answers seen. */
  published = 0;
  private noResponders = 0;
  private token = "";
  private halfClosed = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private halfCloseTimer: ReturnType<typeof setTimeout> | undefined;
  /** Per-call override of the client's half-close delay. */
  halfCloseDelayMs: number | undefined;
  /** See {@link CallOptions.singleRequest}. */
  singleRequest = false;
  /** See {@link CallOptions.goNode}. */
  goNode = false;
  /** Gap between this call's envelopes after its first request message (ms; 0 = none). */
  gapMs = 0;
  /** Envelopes waiting for their slot (paced calls). */
  private paced: Uint8Array[] = [];
  /** When the next paced envelope may leave (performance.now()); 0 until the first request message. */
  private nextSlot = 0;
  /** A paced envelope is in the outbox, not yet handed to nats.js: the next slot is not known yet. */
  private pacedQueued = false;
  private paceTimer: ReturnType<typeof setTimeout> | undefined;
  /** A half-close waiting for the node's first answer (single-request calls). */
  private halfClosePending = false;
  private signal: AbortSignal | undefined;
  private readonly onAbort = () => this.cancel(Code.Canceled, "call cancelled by client");

  constructor(
    private readonly client: NrpcClient,
    private readonly subject: string,
    readonly target: string,
    private readonly service: string,
    private readonly events: ClientStreamEvents,
  ) {}

  attach(token: string, inbox: string): void {
    this.token = token;
    this.inbox = inbox;
  }

  watchAbort(signal: AbortSignal): void {
    this.signal = signal;
    signal.addEventListener("abort", this.onAbort, { once: true });
  }

  setDeadline(ms: number): void {
    this.timer = setTimeout(() => this.cancel(Code.DeadlineExceeded, "deadline exceeded"), ms);
  }

  send(data: Uint8Array): void {
    if (this.ended || this.halfClosed || !this.token) return;
    const envelope = encodeData(this.goNode && data.byteLength === 0 ? goEmptyMessage : data);
    if (!this.client.fits(envelope)) {
      const max = this.client.maxPayload;
      this.cancelFor(new MaxPayloadError(tooLargeForNats(data.byteLength, max), max), Code.ResourceExhausted);
      return;
    }
    this.emit(envelope);
  }

  /**
   * An envelope of this call could not be published: the call ends with a status now (the server,
   * if it has the call, is told when it can be: a payload over the limit gets End{RESOURCE_EXHAUSTED}).
   */
  readonly onPublishError = (e: Error): void => {
    if (this.ended) return;
    if (e instanceof MaxPayloadError) this.cancelFor(new MaxPayloadError(`a request envelope is larger than the NATS server's max_payload (${e.maxPayload} bytes)`, e.maxPayload, { cause: e }), Code.ResourceExhausted);
    else this.fail(new ConnectError(`publish to NATS failed: ${e.message}`, Code.Unavailable));
  };

  closeSend(): void {
    if (this.ended || this.halfClosed) return;
    this.halfClosed = true;
    if (this.singleRequest && !this.reached) {
      this.halfClosePending = true; // sent when the node answers (see receive), or never
      return;
    }
    const delay = this.halfCloseDelayMs ?? this.client.halfCloseDelayMs;
    if (this.reached || this.gapMs > 0 || delay <= 0) this.sendHalfClose();
    else this.halfCloseTimer = setTimeout(this.sendHalfClose, delay);
  }

  private readonly sendHalfClose = () => {
    this.halfCloseTimer = undefined;
    if (this.ended) return;
    this.emit(encodeRequestEnd());
  };

  /**
   * Publishes one request envelope; on a paced call (a Go node) at least {@link gapMs} after the
   * previous one left. A Go server runs each message in its own goroutine, so envelopes that arrive together
   * are handled in any order (the newest often first), and an `End{}` that closes the stream while a
   * `Data` waits crashes the node (spec §1.10). The first request message goes with the Call: a Data
   * that overtakes its Call is buffered by the Go server.
   */
  private emit(bytes: Uint8Array): void {
    if (this.gapMs <= 0) {
      this.published++;
      this.client.publish(this.subject, bytes, this.inbox, this.onPublishError);
      return;
    }
    if (this.paced.length === 0 && !this.pacedQueued && performance.now() >= this.nextSlot) {
      this.release(bytes);
      return;
    }
    this.paced.push(bytes);
    this.armPace();
  }

  /**
   * Hands one paced envelope to the outbox. Its slot starts when the outbox hands it to nats.js, not
   * now: the event-loop turn can run on for milliseconds before the outbox flushes (the first request
   * message waits there with its Call while the call is set up), and a gap counted from here was then
   * spent before the envelope left — the next one followed it at once, and the node read both together.
   * With the model node (test/stack/gateway/go-nodes.test.ts, gap 2 ms, load average ~17): counted from
   * here, 195/210 bursts of 20 in order, most failures in their first frames; from the flush, 208/210.
   */
  private release(bytes: Uint8Array): void {
    this.published++; // counted when it leaves: the 503s that tell "never reached" are per published envelope
    this.pacedQueued = true;
    this.client.publish(this.subject, bytes, this.inbox, this.onPublishError);
    this.client.afterFlush(this.onPacedFlushed);
  }

  private readonly onPacedFlushed = (): void => {
    this.pacedQueued = false;
    this.nextSlot = performance.now() + this.gapMs;
    if (this.paced.length) this.armPace();
  };

  private armPace(): void {
    if (this.paceTimer !== undefined || this.pacedQueued || this.ended) return;
    this.paceTimer = setTimeout(this.drainPaced, Math.max(0, this.nextSlot - performance.now()));
  }

  private readonly drainPaced = (): void => {
    this.paceTimer = undefined;
    if (this.ended) return;
    // Node runs timers on the event loop's clock, read when the turn began: one armed late in a long
    // turn fires early by the real clock. Early: wait for the rest.
    if (performance.now() < this.nextSlot) return this.armPace();
    const bytes = this.paced.shift();
    if (bytes !== undefined) this.release(bytes);
  };

  cancel(code: Code = Code.Canceled, message = "call cancelled"): void {
    if (this.ended) return;
    this.sendCancel(code, message);
    this.fail(new ConnectError(message, code));
  }

  /** Cancels for a known reason: the server hears `End{code, reason}`, the call ends with the reason as cause. */
  private cancelFor(reason: NrpcReason, code: Code): void {
    if (this.ended) return;
    this.sendCancel(code, reason.message);
    this.fail(endedBy(reason, code));
  }

  private sendCancel(code: Code, message: string): void {
    // A cancel is not paced: the frames still waiting are not sent at all, and a Go server that reads
    // it before a Data it already has only drops that Data (no channel is closed, nothing panics).
    if (this.token) this.client.publish(this.subject, encodeRequestEnd(code, message), this.inbox);
  }

  /** Ends the call locally (no message to the server). */
  fail(error: ConnectError): void {
    this.finish(error, emptyMetadata);
  }

  /** Ends a call that never started, on the next microtask; it sends nothing meanwhile. */
  failSoon(error: ConnectError): void {
    this.halfClosed = true;
    queueMicrotask(() => this.fail(error));
  }

  receive(msg: Msg): void {
    if (this.ended) return;
    hopRecorder?.("reply-received");
    const data = msg.data;
    if (data.length === 0) {
      // A NATS status message (e.g. 503 no responders) or an empty payload: Go ignores empty
      // payloads; a 503 means nobody serves the subject now, so fail fast.
      if (msg.headers && msg.headers.code === 503 && ++this.noResponders === 1) this.onNoResponders();
      return;
    }
    let res;
    try {
      res = decodeResponse(data);
    } catch {
      this.cancel(Code.Internal, "malformed nats-grpc response");
      return;
    }
    if (!this.reached) this.client.noteServed(this.target, this.service);
    this.reached = true;
    if (this.halfClosePending) {
      // After the messages of this read: a unary reply's End comes with its Data, and then no stale
      // half-close is sent (a Go server would keep it as an orphan stream entry, spec §1.5.2).
      this.halfClosePending = false;
      queueMicrotask(this.sendHalfClose);
    }
    switch (res.type.case) {
      case "data":
        this.events.onMessage(res.type.value.data);
        return;
      case "begin": {
        const header = fromWireMetadata(res.type.value.header);
        const max = this.client.maxMetadataBytes;
        if (max > 0 && metadataBytes(header) > max) {
          this.cancel(Code.Internal, `response headers from the server are larger than the limit of ${max} bytes`);
          return;
        }
        this.events.onHeader?.(header, res.type.value.nid);
        return;
      }
      case "end": {
        const st = res.type.value.status;
        const trailers = fromWireMetadata(res.type.value.trailer);
        const max = this.client.maxMetadataBytes;
        if (max > 0 && metadataBytes(trailers) > max) {
          this.finish(new ConnectError(`response trailers from the server are larger than the limit of ${max} bytes`, Code.Internal), emptyMetadata);
          return;
        }
        let message = st?.message ?? "";
        if (max > 0 && message.length > max >> 2) message = message.slice(0, max >> 2) + "...";
        const err = st && st.code !== 0 ? new ConnectError(message, codeFromNumber(st.code)) : undefined;
        this.finish(err, trailers);
        return;
      }
      default:
        return; // unset oneof: ignored, as Go does
    }
  }

  /**
   * NATS answers each envelope that finds no subscriber with a 503, in order. The node never had this
   * call only if EVERY envelope published so far got one: then "no responders" (a caller may retry it
   * elsewhere). If only later ones did (the node died after the Call and request were delivered; a
   * half-close held back 1 s then finds nobody), it may have served the call: that must not read as
   * "never reached", or the call runs twice. A barrier after them tells how many 503s there are.
   */
  private onNoResponders(): void {
    const sent = this.published;
    const settle = async (all: boolean) => {
      if (this.ended) return;
      if (all && (await this.client.aliveWithout(this.target, this.service))) {
        if (this.ended) return;
        this.finish(endedBy(new NotServedError(this.target, this.subject, this.service), Code.Unimplemented), emptyMetadata);
        return;
      }
      if (this.ended) return;
      const reason = all ? new NeverReachedError(this.target, this.subject) : new StoppedAnsweringError(this.target, this.subject);
      this.finish(endedBy(reason, Code.Unavailable), emptyMetadata);
    };
    this.client.barrier().then(
      () => settle(this.noResponders >= sent),
      () => settle(true),
    );
  }

  private finish(error: ConnectError | undefined, trailers: Metadata): void {
    if (this.ended) return;
    this.ended = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.halfCloseTimer) clearTimeout(this.halfCloseTimer);
    if (this.paceTimer) clearTimeout(this.paceTimer);
    this.paced.length = 0;
    this.signal?.removeEventListener("abort", this.onAbort);
    if (this.token) this.client.forget(this.token);
    this.events.onEnd(error, trailers);
  }
}

/** The status message of a request message refused for NATS's max_payload. */
export function tooLargeForNats(messageBytes: number, maxPayload: number): string {
  return `request message of ${messageBytes} bytes is larger than NATS carries (max_payload ${maxPayload} bytes, ${largestDataMessage(maxPayload)} for a message)`;
}

/** Size of metadata as the limits count it: key and value lengths. */
function metadataBytes(md: Metadata): number {
  let n = 0;
  for (const [k, values] of md) for (const v of values) n += k.length + v.length;
  return n;
}

/** Maps a wire status code to a Code; out-of-range codes become UNKNOWN. */
export function codeFromNumber(n: number): Code {
  return n >= 1 && n <= 16 ? (n as Code) : Code.Unknown;
}
