/**
 * nats-grpc server: serves gRPC services on `nrpc.<nid>.<pkg.Service>.>` (queue group = service name).
 * Streams are keyed by the caller's reply subject, and each stream's frames are processed in order
 * (the Go server does not). Unknown methods get status 12; stray `End`s for unknown streams are
 * ignored; an empty `Data` is an empty message, not EOF; `closeStreams(peerNid)` cancels a dead
 * peer's streams.
 *
 * A lost NATS connection ends the streams it carried: at `disconnect` their handlers are aborted, and
 * at `reconnect` each caller is sent `End{UNAVAILABLE}` (see {@link NrpcServer} for why then), so a
 * call whose request or reply died with a NATS server ends at once instead of at its deadline.
 *
 * A reply it cannot publish is never lost in silence: a response message whose envelope is larger
 * than the NATS server's `max_payload` ends the call RESOURCE_EXHAUSTED (the caller gets that End and
 * the handler's `send` throws it), and an envelope nats.js refuses later aborts the call with a status.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { Msg, NatsConnection, Subscription } from "@nats-io/nats-core";
import type { Metadata } from "../core/metadata.js";
import { decodeRequest, encodeBegin, encodeData, encodeResponseEnd, fromWireMetadata, largestDataMessage } from "./envelope.js";
import { MaxPayloadError } from "./errors.js";
import { Outbox, type PublishErrorHandler } from "./outbox.js";
import { RequestQueue } from "./request-queue.js";
import { hopRecorder } from "./bench-hooks.js";
import { isServiceName, isSubjectToken, servicePrefix } from "./subject.js";

/** The server side of one call, as a handler sees it. */
export interface ServerCall {
  readonly service: string;
  readonly method: string;
  /** Request metadata from the Call envelope. */
  readonly metadata: Metadata;
  /** The caller's node id (`Call.nid`). */
  readonly peerNid: string;
  /** Aborted when the caller cancels, the peer goes down, or the server closes. */
  readonly signal: AbortSignal;
  /** Request messages; ends at the caller's half-close. */
  readonly requests: AsyncIterable<Uint8Array>;
  /** Adds response headers (sent lazily with the first message, or before the End). */
  setHeader(md: Metadata): void;
  /** Adds trailers (sent with the End). */
  setTrailer(md: Metadata): void;
  /**
   * Sends one response message. Throws (and ends the call RESOURCE_EXHAUSTED for the caller) when it
   * is larger than NATS carries; throws the abort reason once the call is over.
   */
  send(data: Uint8Array): void;
}

/** A method implementation on raw bytes. Returning ends the call OK; throwing ends it with a status. */
export type RawMethodHandler = (call: ServerCall) => Promise<void> | void;

/** Options of {@link NrpcServer}. */
export interface NrpcServerOptions {
  /** This node's id (subject token). */
  nid: string;
  /** Max queued request messages per stream before RESOURCE_EXHAUSTED (default 1024). */
  maxQueuedRequests?: number;
  /** Called when a handler throws something that is not a ConnectError (for logging). */
  onError?: (err: unknown, call: ServerCall) => void;
}

/** A nats-grpc server bound to one NATS connection. */
export class NrpcServer {
  readonly nid: string;
  private readonly services = new Map<string, { sub: Subscription; methods: Map<string, RawMethodHandler> }>();
  private readonly streams = new Map<string, ServerStream>();
  private readonly outbox: Outbox;
  /** Streams cut by a disconnect, whose callers get their End once the connection is back. */
  private cut: ServerStream[] = [];
  private closed = false;

  constructor(
    readonly nc: NatsConnection,
    private readonly opts: NrpcServerOptions,
  ) {
    if (!isSubjectToken(opts.nid)) throw new Error(`invalid nid ${JSON.stringify(opts.nid)}`);
    this.nid = opts.nid;
    this.outbox = new Outbox(nc, "node-replied");
    void this.watchStatus();
  }

  /** Open server streams. */
  get streamCount(): number {
    return this.streams.size;
  }

  /** Registers a service by full name with raw-bytes method handlers. */
  register(service: string, methods: Record<string, RawMethodHandler>): void {
    if (!isServiceName(service)) throw new Error(`invalid service name ${JSON.stringify(service)}`);
    if (this.services.has(service)) throw new Error(`service ${service} already registered`);
    const prefix = servicePrefix(this.nid, service);
    const table = new Map(Object.entries(methods));
    const sub = this.nc.subscribe(`${prefix}.>`, {
      queue: service,
      callback: (err, msg) => {
        if (!err) this.dispatch(msg, service, prefix, table);
      },
    });
    this.services.set(service, { sub, methods: table });
  }

  /** Cancels every stream whose caller is `peerNid` (the peer went down); returns how many. */
  closeStreams(peerNid: string): number {
    let n = 0;
    for (const s of [...this.streams.values()]) {
      if (s.peerNid === peerNid) {
        s.abort(new ConnectError(`peer ${peerNid} went away`, Code.Canceled));
        n++;
      }
    }
    return n;
  }

  /**
   * Unsubscribes all services and cancels open streams, telling callers UNAVAILABLE — unless
   * `silent` (a crash drill: the callers hear nothing, as when a process dies).
   */
  close(silent = false): void {
    this.closed = true;
    for (const { sub } of this.services.values()) sub.unsubscribe();
    this.services.clear();
    for (const s of [...this.streams.values()]) s.abort(new ConnectError("server closed", Code.Unavailable), !silent);
    this.outbox.flush();
  }

  /** @internal Batched: a reply's Data and End leave in one write (see {@link Outbox}). */
  publish(reply: string, data: Uint8Array, onError?: PublishErrorHandler): void {
    this.outbox.publish(reply, data, undefined, onError);
  }

  /** @internal False when an envelope is larger than the server's max_payload. */
  fits(data: Uint8Array): boolean {
    return this.outbox.fits(data);
  }

  /** The connected NATS server's `max_payload` (0 while unknown). */
  get maxPayload(): number {
    return this.outbox.maxPayload;
  }

  /** @internal Reports an envelope of an already finished call that could not be published. */
  lost(e: Error, call: ServerCall): void {
    this.opts.onError?.(e, call);
  }

  /** @internal */
  forget(reply: string): void {
    this.streams.delete(reply);
  }

  /**
   * Ends the streams of a lost connection. Between the `disconnect` and the `reconnect` the node was
   * off NATS: requests published to it then were dropped (its subscription was gone), and replies
   * still in its socket, or inside the server that died, were lost. Its streams cannot go on
   * (a request or the End may be missing, and the caller's gateway keeps waiting, up to its deadline
   * or forever), so each is ended, for both sides:
   * - at `disconnect` the handler is aborted (UNAVAILABLE): it stops at once and sends nothing more;
   * - at `reconnect` each caller is published `End{UNAVAILABLE}`. Not at `disconnect`: nats.js
   *   would buffer it until the reconnect anyway (up to `reconnectBufSize`, then it throws), so
   *   publishing on `reconnect` is the same moment on the wire, cannot overflow that buffer, and an
   *   End nats.js refuses then is reported through `onError` rather than lost in a buffer.
   * A connection that closes instead of reconnecting has no one to tell; its callers' own
   * connection status or deadline ends their calls.
   */
  private async watchStatus(): Promise<void> {
    try {
      for await (const st of this.nc.status()) {
        if (this.closed) return;
        if (st.type === "disconnect") {
          const err = new ConnectError("node lost its NATS connection", Code.Unavailable);
          for (const s of [...this.streams.values()]) {
            s.abort(err);
            this.cut.push(s);
          }
        } else if (st.type === "reconnect") {
          const cut = this.cut;
          this.cut = [];
          for (const s of cut) s.notifyEnd();
        }
      }
    } catch {
      // the iterator ends when the connection closes
    }
  }

  private dispatch(msg: Msg, service: string, prefix: string, methods: Map<string, RawMethodHandler>): void {
    const reply = msg.reply;
    if (!reply || msg.data.length === 0) return;
    let req;
    try {
      req = decodeRequest(msg.data);
    } catch {
      const s = this.streams.get(reply);
      if (s) s.abort(new ConnectError("malformed nats-grpc request", Code.Internal), true);
      else this.publish(reply, encodeResponseEnd(new ConnectError("malformed nats-grpc request", Code.Internal), undefined));
      return;
    }
    const existing = this.streams.get(reply);
    switch (req.type.case) {
      case "call": {
        if (existing) return; // a duplicate Call is ignored
        hopRecorder?.("node-received");
        const method = msg.subject.length > prefix.length + 1 ? msg.subject.slice(prefix.length + 1) : "";
        const handler = methods.get(method);
        if (!handler) {
          this.publish(reply, encodeResponseEnd(new ConnectError("Unimplemented", Code.Unimplemented), undefined));
          return;
        }
        const c = req.type.value;
        const s = new ServerStream(this, { reply, service, method, metadata: fromWireMetadata(c.metadata), peerNid: c.nid, maxQueued: this.opts.maxQueuedRequests });
        this.streams.set(reply, s);
        s.run(handler, this.opts.onError);
        return;
      }
      case "data":
        if (existing && !existing.pushRequest(req.type.value.data)) {
          existing.abort(new ConnectError("too many queued request messages", Code.ResourceExhausted), true);
        }
        return; // data for an unknown stream (never started or already finished) is dropped
      case "end": {
        if (!existing) return; // stray End (e.g. Go Invoke's late half-close): ignored
        const st = req.type.value.status;
        if (st) existing.abort(new ConnectError(st.message || "cancelled by caller", st.code >= 1 && st.code <= 16 ? st.code : Code.Canceled));
        else existing.halfClose();
        return;
      }
      default:
        return;
    }
  }
}

/** What a finished stream's request queue and signal end with (shared: made once, not per call). */
const streamFinished = new ConnectError("stream finished", Code.Canceled);

/** What one {@link ServerStream} is made of (from the Call envelope that opened it). */
interface ServerStreamOptions {
  /** The caller's inbox for this call: every response envelope goes there. */
  readonly reply: string;
  /** Full service name (`pkg.Service`) and method, from the subject. */
  readonly service: string;
  readonly method: string;
  /** Request metadata of the Call envelope. */
  readonly metadata: Metadata;
  /** The caller's node id (`Call.nid`): {@link NrpcServer.closeStreams} cancels its streams by it. */
  readonly peerNid: string;
  /** Request messages queued before the handler reads them (default 1024). */
  readonly maxQueued?: number;
}

class ServerStream implements ServerCall {
  readonly requests: RequestQueue;
  readonly service: string;
  readonly method: string;
  readonly metadata: Metadata;
  readonly peerNid: string;
  private readonly reply: string;
  /** Made on first use of `signal`: most unary handlers never look at it. */
  private ac: AbortController | undefined;
  private abortReason: unknown;
  private header: Metadata | undefined;
  private headerSent = false;
  private trailer: Metadata | undefined;
  private finished = false;

  constructor(
    private readonly server: NrpcServer,
    o: ServerStreamOptions,
  ) {
    this.reply = o.reply;
    this.service = o.service;
    this.method = o.method;
    this.metadata = o.metadata;
    this.peerNid = o.peerNid;
    this.requests = new RequestQueue(o.maxQueued ?? 1024);
  }

  get signal(): AbortSignal {
    if (this.ac === undefined) {
      this.ac = new AbortController();
      if (this.abortReason !== undefined) this.ac.abort(this.abortReason);
    }
    return this.ac.signal;
  }

  private abortSignal(reason: unknown): void {
    this.abortReason = reason;
    this.ac?.abort(reason);
  }

  run(handler: RawMethodHandler, onError?: (err: unknown, call: ServerCall) => void): void {
    let p: Promise<void> | void;
    try {
      p = handler(this);
    } catch (e) {
      this.complete(e, onError);
      return;
    }
    if (p && typeof (p as Promise<void>).then === "function") {
      (p as Promise<void>).then(
        () => this.complete(undefined, onError),
        (e) => this.complete(e, onError),
      );
    } else this.complete(undefined, onError);
  }

  pushRequest(data: Uint8Array): boolean {
    return this.requests.push(data);
  }

  halfClose(): void {
    this.requests.end();
  }

  /** Cancels the stream. `notify` sends an End with the status to the caller (server-side failures). */
  abort(err: ConnectError, notify = false): void {
    if (this.finished) return;
    this.finished = true;
    this.server.forget(this.reply);
    this.requests.fail(err);
    this.abortSignal(err);
    if (notify) this.server.publish(this.reply, encodeResponseEnd(err, this.trailer));
  }

  /** Sends the caller the End of an already aborted stream (after a reconnect; see NrpcServer.watchStatus). */
  notifyEnd(): void {
    const err = this.abortReason instanceof ConnectError ? this.abortReason : new ConnectError("node lost its NATS connection", Code.Unavailable);
    this.server.publish(this.reply, encodeResponseEnd(err, this.trailer), (e) => this.server.lost(e, this));
  }

  setHeader(md: Metadata): void {
    if (this.headerSent) throw new ConnectError("illegal header write: headers already sent", Code.Internal);
    this.header ??= new Map();
    for (const [k, v] of md) this.header.set(k, [...(this.header.get(k) ?? []), ...v]);
  }

  setTrailer(md: Metadata): void {
    this.trailer ??= new Map();
    for (const [k, v] of md) this.trailer.set(k, [...(this.trailer.get(k) ?? []), ...v]);
  }

  send(data: Uint8Array): void {
    if (this.finished) throw this.abortReason ?? streamFinished;
    const envelope = encodeData(data);
    if (!this.server.fits(envelope)) {
      const max = this.server.maxPayload;
      const err = new ConnectError(
        `response message of ${data.byteLength} bytes is larger than NATS carries (max_payload ${max} bytes, ${largestDataMessage(max)} for a message)`,
        Code.ResourceExhausted,
      );
      this.flushHeader();
      this.abort(err, true);
      throw err;
    }
    this.flushHeader();
    this.server.publish(this.reply, envelope, this.onPublishError);
  }

  /** An envelope of this call could not be published: the caller gets an End with a status instead. */
  private readonly onPublishError = (e: Error): void => {
    if (this.finished) return this.server.lost(e, this);
    const code = e instanceof MaxPayloadError ? Code.ResourceExhausted : Code.Unavailable;
    this.abort(new ConnectError(`reply could not be published to NATS: ${e.message}`, code), true);
  };

  private flushHeader(): void {
    if (this.headerSent) return;
    this.headerSent = true;
    if (this.header && this.header.size > 0) this.server.publish(this.reply, encodeBegin(this.header, this.server.nid), this.onPublishError);
  }

  private complete(e: unknown, onError?: (err: unknown, call: ServerCall) => void): void {
    if (this.finished) return; // cancelled: Go sends no End either
    hopRecorder?.("node-handler-done");
    this.finished = true;
    this.server.forget(this.reply);
    this.requests.fail(streamFinished);
    let err: ConnectError | undefined;
    if (e !== undefined) {
      if (e instanceof ConnectError) {
        err = e;
        if (e.metadata) {
          const md: Metadata = new Map();
          e.metadata.forEach((v, k) => md.set(k, [v]));
          if (md.size) this.setTrailer(md);
        }
      } else {
        onError?.(e, this);
        err = new ConnectError(e instanceof Error ? e.message : String(e), Code.Unknown);
      }
    }
    this.flushHeader();
    this.server.publish(this.reply, encodeResponseEnd(err, this.trailer), this.onPublishError);
    this.abortSignal(streamFinished);
  }
}
