/**
 * The Director: authenticate → route (Map) → balance (node table) → forward over nats-grpc as raw
 * bytes. It never knows which wire protocol a call came in on.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { NodeInfo } from "../core/node-info.js";
import { NrpcClient, tooLargeForNats, type ClientStream } from "../nrpc/client.js";
import { isNeverReached, isNotServed } from "../nrpc/errors.js";
import { parseProcedure } from "../nrpc/subject.js";
import { propagateTrace } from "./trace-context.js";
import type { Call, CallHandler, CallResponder } from "../core/call.js";
import type { Metadata } from "../core/metadata.js";
import type { RouteTable } from "./route.js";
import { hopRecorder } from "../nrpc/bench-hooks.js";
import type { CallInfo, DirectorAuthenticator, DirectorBalancer, DirectorNodeSource, DirectorObserver } from "./types.js";

/** Options of {@link createDirector}. */
export interface DirectorOptions {
  client: NrpcClient;
  routes: RouteTable;
  nodes: DirectorNodeSource;
  auth?: DirectorAuthenticator;
  balancer?: DirectorBalancer;
  observer?: DirectorObserver;
  /** Forward `authorization` to backends (default false). */
  forwardAuthorization?: boolean;
  /** Forward `cookie` to backends (default false). */
  forwardCookies?: boolean;
  /** Response header naming the serving node (default `x-edge-node`; "" disables). */
  nodeHeader?: string;
  /** Response bytes buffered for a slow client before the call fails RESOURCE_EXHAUSTED (default 8 MiB). */
  maxBufferedBytes?: number;
  /** Retry once on another node a call that never reached one (no responders). Default true. */
  retryUnreached?: boolean;
  /**
   * How long a call whose node depends on its first request message (a sticky service whose key
   * comes from that message: the room an ion-sdk-js client joins) may take to send it before it ends
   * DEADLINE_EXCEEDED (default 10000; 0 = only the call's own deadline bounds the wait). Every call
   * waits for its first message (or its half-close) before a node is picked and called, as Go
   * nats-grpc's lazy NewStream does; this bounds the wait where the gateway itself needs the message.
   */
  firstMessageTimeoutMs?: number;
  /**
   * The kind of a method, when the gateway has its schema (compiled in, or from a descriptor set):
   * a unary or client-streaming reply that ends OK without its message is an error.
   */
  methodKind?: (service: string, method: string) => MethodKind | undefined;
  /**
   * Whether calls of discovery service `service` to `node` take the Go-compatible sender (paced
   * frames, the empty message made non-empty; see src/nrpc/client.ts). Default: never.
   */
  goNode?: (service: string, node: NodeInfo) => boolean;
  /**
   * A token holds to its room: when the verified token has this claim (ION: `sid`) and a request
   * message names another room (the service's sticky message key, e.g. `join.sid`), the call ends
   * PERMISSION_DENIED — before any node is called when it is the first message. Unset: no check
   * (ION does none).
   */
  tokenRoomClaim?: string;
}

/** A protobuf method kind, as protobuf-es names it. */
export type MethodKind = "unary" | "server_streaming" | "client_streaming" | "bidi_streaming";

/** The Director as a CallHandler, plus what the gateway needs to drain it. */
export interface Director {
  readonly handle: CallHandler;
  /** Calls in flight. */
  readonly inFlight: number;
  /** Stop taking calls (new ones get UNAVAILABLE). */
  stopAccepting(): void;
  /** Resolves when no call is in flight, or after `ms`. */
  idle(ms: number): Promise<boolean>;
  /** Ends every in-flight call with `End{CANCELLED}` to its backend. */
  cancelAll(message?: string): void;
  /** A node went down: its streams end UNAVAILABLE now. */
  nodeDown(nid: string): void;
}

const stripAlways = ["x-edge-internal"];
let callSeq = 0;

/** Creates the Director. */
export function createDirector(opts: DirectorOptions): Director {
  const { client, routes, nodes, auth, observer } = opts;
  const balancer = opts.balancer ?? randomBalancer;
  const nodeHeader = opts.nodeHeader ?? "x-edge-node";
  const maxBuffered = opts.maxBufferedBytes ?? 8 * 1024 * 1024;
  const retry = opts.retryUnreached ?? true;
  const firstMessageTimeoutMs = opts.firstMessageTimeoutMs ?? 10_000;
  let accepting = true;
  const live = new Set<LiveCall>();
  let idleWaiters: (() => void)[] = [];

  const handle: CallHandler = async (call, responder) => {
    const info: CallInfo = { id: (++callSeq).toString(36), protocol: call.protocol, path: call.path, start: Date.now(), bytesIn: 0, bytesOut: 0 };
    observer?.callStarted?.(info);
    const end = (err: ConnectError | undefined, trailers: Metadata = new Map()) => {
      responder.end(err, trailers);
      observer?.callEnded?.(info, err);
    };
    if (!accepting) return end(new ConnectError("gateway is shutting down", Code.Unavailable));
    const proc = parseProcedure(call.path);
    if (!proc) return end(new ConnectError(`malformed method path`, Code.Unimplemented));
    const service = routes.resolve(proc);
    if (service === undefined) return end(new ConnectError(`unknown service ${proc.service}`, Code.Unimplemented));

    // Backend metadata: the client's, minus credentials and anything claiming to be a verified claim.
    const md: Metadata = new Map(call.metadata);
    if (!opts.forwardAuthorization) md.delete("authorization");
    if (!opts.forwardCookies) md.delete("cookie");
    for (const k of stripAlways) md.delete(k);
    let claims: Record<string, unknown> | undefined;
    if (auth) {
      for (const k of auth.claimHeaderNames) md.delete(k);
      if (auth.enabled) {
        try {
          const r = await auth.authenticate({
            metadata: call.metadata,
            service: proc.service,
            method: proc.method,
            path: proc.path,
            queryToken: call.queryToken,
          });
          claims = r.claims;
          for (const [k, v] of r.forward) md.set(k, v);
        } catch (e) {
          const err = e instanceof ConnectError ? e : new ConnectError("authentication failed", Code.Unauthenticated);
          observer?.authFailed?.(info, err);
          return end(err);
        }
      }
    }
    // Only now is the call counted under its service: refused calls must not label metrics (call-labels.ts).
    info.service = service;
    info.traceId = propagateTrace(call.metadata, md);
    if (call.signal.aborted) return end(new ConnectError("call cancelled", Code.Canceled));

    const schemaKind = opts.methodKind?.(proc.service, proc.method);
    const kind = call.shape === "unary" || call.shape === "server_streaming" ? call.shape : schemaKind;
    // One request message: known from the schema, else from the protocol (a Connect unary request).
    const requestKind = schemaKind ?? (call.shape === "unary" ? "unary" : undefined);
    const lc = new LiveCall({
      call,
      responder,
      info,
      md,
      claims,
      service,
      procService: proc.service,
      method: proc.method,
      nodes,
      client,
      balancer,
      observer,
      nodeHeader,
      maxBuffered,
      retry,
      firstMessageTimeoutMs,
      singleResponse: kind === "unary" || kind === "client_streaming",
      singleRequest: requestKind === "unary" || requestKind === "server_streaming",
      goNode: opts.goNode ? (n) => opts.goNode!(service, n) : () => false,
      tokenRoom: tokenRoomOf(claims, opts.tokenRoomClaim),
      end,
    });
    live.add(lc);
    try {
      await lc.run();
    } finally {
      live.delete(lc);
      if (live.size === 0 && idleWaiters.length) {
        const w = idleWaiters;
        idleWaiters = [];
        for (const f of w) f();
      }
    }
  };

  return {
    handle,
    get inFlight() {
      return live.size;
    },
    stopAccepting() {
      accepting = false;
    },
    idle(ms) {
      if (live.size === 0) return Promise.resolve(true);
      return new Promise((resolve) => {
        const t = setTimeout(() => resolve(false), ms);
        idleWaiters.push(() => {
          clearTimeout(t);
          resolve(true);
        });
      });
    },
    cancelAll(message = "gateway shutting down") {
      for (const lc of [...live]) lc.shutdown(message);
    },
    nodeDown(nid) {
      client.closeStreams(nid, `node ${nid} went down`);
    },
  };
}

/** The room a token holds to: its `claim`, when that is a non-empty string or a number. */
function tokenRoomOf(claims: Record<string, unknown> | undefined, claim: string | undefined): string | undefined {
  if (claim === undefined || claims === undefined || !Object.prototype.hasOwnProperty.call(claims, claim)) return undefined;
  const v = claims[claim];
  if (typeof v === "string" && v !== "") return v;
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  return undefined;
}

/** Fallback balancer: a random live node. */
const randomBalancer: DirectorBalancer = {
  pick: (_s, list, ctx) => {
    const usable = ctx.exclude?.size ? list.filter((n) => !ctx.exclude!.has(n.nid)) : list;
    return usable[Math.floor(Math.random() * usable.length)];
  },
  onCallStart() {},
  onCallEnd() {},
};

/** Request messages a call keeps for a replay on another node until its node answers (see LiveCall.kept). */
const maxReplayed = 64;

/** What connect-es and grpc-js answer when a unary reply ends OK without its message. */
const missingResponse = "protocol error: missing output message for unary method";

/** What one {@link LiveCall} is made of (set once per call by the Director). */
interface LiveCallOptions {
  readonly call: Call;
  readonly responder: CallResponder;
  readonly info: CallInfo;
  /** Metadata for the backend (credentials stripped, verified claims and trace context added). */
  readonly md: Metadata;
  /** Verified token claims, when auth is on. */
  readonly claims: Record<string, unknown> | undefined;
  /** Discovery service the call is routed to. */
  readonly service: string;
  /** Full protobuf service name (`rtc.RTC`) and method (`Signal`) from the path. */
  readonly procService: string;
  readonly method: string;
  readonly nodes: DirectorNodeSource;
  readonly client: NrpcClient;
  readonly balancer: DirectorBalancer;
  readonly observer: DirectorObserver | undefined;
  readonly nodeHeader: string;
  readonly maxBuffered: number;
  /** Retry once on another node a call that never reached one. */
  readonly retry: boolean;
  /** See {@link DirectorOptions.firstMessageTimeoutMs}. */
  readonly firstMessageTimeoutMs: number;
  /** The method answers with exactly one message (unary, client streaming): OK without it is an error. */
  readonly singleResponse: boolean;
  /**
   * The call sends exactly one request message (unary, server streaming; from the schema, else a
   * Connect unary request): no half-close before the node answered (see CallOptions.singleRequest).
   */
  readonly singleRequest: boolean;
  /** Whether `node` gets the Go-compatible sender (see DirectorOptions.goNode). */
  readonly goNode: (node: NodeInfo) => boolean;
  /** The room the call's token holds to (see {@link DirectorOptions.tokenRoomClaim}). */
  readonly tokenRoom: string | undefined;
  /** Ends the call towards the client (and tells the observer). */
  readonly end: (err: ConnectError | undefined, trailers?: Metadata) => void;
}

/**
 * One forwarded call: waits for its first request message (or its half-close), picks a node and
 * opens the nats-grpc call with that message, then pumps requests to the node and responses to the
 * client. A call that ends before its first message never reaches NATS (Go nats-grpc's streams are
 * lazy the same way, spec §1.5.1: the Call envelope goes out with the first message).
 */
class LiveCall {
  private stream: ClientStream | undefined;
  private node: NodeInfo | undefined;
  private headerSent = false;
  private sentCount = 0;
  /**
   * The request messages sent so far, kept until the node answers: a call that never reached its node
   * is replayed whole on another (at most {@link maxReplayed} messages; past that the retry is off).
   */
  private kept: Uint8Array[] | undefined = [];
  private requestsDone = false;
  private buffered = 0;
  private waiting = 0;
  private received = 0;
  private finished = false;
  /** Whether a retry on another node is still allowed (once). */
  private mayRetry: boolean;
  /** The sticky key the first request message holds (see {@link DirectorBalancer.messageKey}). */
  private messageKey: string | undefined;
  private waitTimer: ReturnType<typeof setTimeout> | undefined;
  private resolveDone!: () => void;
  private readonly done = new Promise<void>((r) => (this.resolveDone = r));

  constructor(private readonly o: LiveCallOptions) {
    this.mayRetry = o.retry;
  }

  async run(): Promise<void> {
    const signal = this.o.call.signal;
    signal.addEventListener("abort", this.onClientAbort, { once: true });
    try {
      if (signal.aborted) this.onClientAbort();
      else {
        this.startWaitTimer();
        void this.pumpRequests();
      }
      await this.done;
    } finally {
      signal.removeEventListener("abort", this.onClientAbort);
      this.clearWaitTimer();
    }
  }

  /**
   * Bounds the wait for the first request message: the call's deadline, and the first-message
   * timeout when the placement needs that message. Both end the call DEADLINE_EXCEEDED.
   */
  private startWaitTimer(): void {
    const o = this.o;
    const deadline = o.call.timeoutMs !== undefined && o.call.timeoutMs > 0 ? Math.max(1, o.call.timeoutMs - (Date.now() - o.info.start)) : undefined;
    const needsMessage = o.firstMessageTimeoutMs > 0 && (o.balancer.waitsForMessage?.(o.service, `${o.procService}/${o.method}`, { metadata: o.md, claims: o.claims }) ?? false);
    const ms = needsMessage && (deadline === undefined || o.firstMessageTimeoutMs < deadline) ? o.firstMessageTimeoutMs : deadline;
    if (ms === undefined) return;
    const err =
      ms === deadline
        ? new ConnectError("deadline exceeded", Code.DeadlineExceeded)
        : new ConnectError(`no request message in ${ms} ms: service ${o.service} places a call by its first request message`, Code.DeadlineExceeded);
    this.waitTimer = setTimeout(() => {
      this.waitTimer = undefined;
      if (!this.stream) this.finish(err, new Map());
    }, ms);
  }

  private clearWaitTimer(): void {
    if (this.waitTimer !== undefined) clearTimeout(this.waitTimer);
    this.waitTimer = undefined;
  }

  /** The live nodes of the service, as the balancer picks among them (`exclude`: nodes already tried). */
  private pick(exclude?: ReadonlySet<string>): NodeInfo | undefined | Promise<NodeInfo | undefined> {
    const o = this.o;
    const list = o.nodes.nodes(o.service);
    if (list.length === 0) return undefined;
    return o.balancer.pick(o.service, list, { metadata: o.md, claims: o.claims, exclude, messageKey: this.messageKey });
  }

  /**
   * Reads the room a request message names (the first always, later ones when the token holds to a
   * room) and holds the token to it. Ends the call, INVALID_ARGUMENT for a message that does not
   * parse or PERMISSION_DENIED for another room, and returns false.
   */
  private admit(m: Uint8Array, first: boolean): boolean {
    const o = this.o;
    if (!o.balancer.messageKey || (!first && o.tokenRoom === undefined)) return true;
    let room: string | undefined;
    try {
      room = o.balancer.messageKey(o.service, `${o.procService}/${o.method}`, m);
    } catch (e) {
      return this.refuse(e instanceof ConnectError ? e : new ConnectError(String(e), Code.InvalidArgument));
    }
    if (first) this.messageKey = room;
    if (o.tokenRoom !== undefined && room !== undefined && room !== o.tokenRoom) {
      return this.refuse(new ConnectError("the token is for another room than the one this call joins (its sid claim must match the room in the request)", Code.PermissionDenied));
    }
    return true;
  }

  /** Ends the call with `err`, telling the node if it was called. Returns false. */
  private refuse(err: ConnectError): false {
    const s = this.stream;
    this.finish(err, new Map());
    s?.cancel(err.code, err.rawMessage);
    return false;
  }

  /**
   * The first request message is in (or the requests ended without one): read its room, pick a node
   * and open the call.
   */
  private async place(first: Uint8Array | undefined): Promise<void> {
    // No node at all is said first (UNAVAILABLE), whatever the message holds.
    if (this.o.nodes.nodes(this.o.service).length === 0) return this.finish(new ConnectError(`no live node for service ${this.o.service}`, Code.Unavailable), new Map());
    if (first !== undefined && !this.admit(first, true)) return;
    let node: NodeInfo | undefined;
    try {
      const picked = this.pick();
      node = picked instanceof Promise ? await picked : picked;
    } catch (e) {
      return this.finish(new ConnectError(`no node could be chosen for service ${this.o.service}: ${e instanceof Error ? e.message : String(e)}`, Code.Unavailable), new Map());
    }
    if (this.finished) return;
    if (!node) return this.finish(new ConnectError(`no live node for service ${this.o.service}`, Code.Unavailable), new Map());
    this.o.info.nid = node.nid;
    this.o.info.room = this.o.balancer.roomOf?.(this.o.service, { metadata: this.o.md, claims: this.o.claims, messageKey: this.messageKey });
    this.o.observer?.callRouted?.(this.o.info);
    this.open(node);
  }

  /**
   * The adapter aborted the call: the client went away (CANCELLED), or its request stream failed
   * (oversized or malformed message). The reason is what the client is told and what the backend
   * hears in its End — decided here, not by whichever end() comes first while the abort unwinds.
   */
  private readonly onClientAbort = (): void => {
    const r: unknown = this.o.call.signal.reason;
    const err = r instanceof ConnectError ? r : new ConnectError("call cancelled by client", Code.Canceled);
    const s = this.stream;
    this.finish(err, new Map());
    s?.cancel(err.code, err.rawMessage);
  };

  /** Shutdown: the client gets UNAVAILABLE (retry elsewhere), the backend End{CANCELLED}. */
  shutdown(message: string): void {
    const s = this.stream;
    this.finish(new ConnectError(message, Code.Unavailable), new Map());
    s?.cancel(Code.Canceled, message);
  }

  /** Opens the nats-grpc call on `node` with the first message (and the half-close, if it came). */
  private open(node: NodeInfo): void {
    if (this.finished) return;
    const o = this.o;
    this.clearWaitTimer();
    this.node = node;
    o.info.nid = node.nid;
    o.balancer.onCallStart(node.nid);
    // The call's signal is watched by run(), not by the nrpc client: the abort reason picks the status.
    // The deadline counts from the call's start (auth, the wait for the first message, a retry included).
    const timeoutMs = o.call.timeoutMs === undefined ? undefined : Math.max(1, o.call.timeoutMs - (Date.now() - o.info.start));
    hopRecorder?.("director-done");
    const stream = o.client.open(node.nid, o.procService, o.method, { metadata: o.md, timeoutMs, singleRequest: o.singleRequest, goNode: o.goNode(node) }, {
      onHeader: (md) => this.sendHeader(md),
      onMessage: (data) => this.onMessage(data),
      onEnd: (err, trailers) => this.onEnd(stream, node, err, trailers),
    });
    this.stream = stream;
    if (!stream.ended) {
      for (const m of this.kept ?? []) stream.send(m);
      if (this.requestsDone) stream.closeSend();
    }
  }

  private sendHeader(md: Metadata | undefined): void {
    if (this.headerSent) return;
    this.headerSent = true;
    const h: Metadata = md ? md : new Map();
    if (this.o.nodeHeader && this.node) h.set(this.o.nodeHeader, [this.node.nid]);
    this.o.responder.header(h);
  }

  private onMessage(data: Uint8Array): void {
    if (this.finished) return;
    this.received++;
    this.sendHeader(undefined);
    this.o.info.bytesOut += data.length;
    const p = this.o.responder.message(data);
    if (p) {
      // The client is slower than the backend: nats-grpc has no flow control, so count what the
      // adapter holds for us and give up past the limit instead of buffering without bound.
      this.waiting++;
      this.buffered += data.length;
      if (this.buffered > this.o.maxBuffered) {
        this.stream?.cancel(Code.ResourceExhausted, "client too slow: response buffer limit exceeded");
        return;
      }
      const n = data.length;
      p.then(
        () => {
          this.waiting--;
          this.buffered = this.waiting === 0 ? 0 : this.buffered - n;
        },
        () => {},
      );
    }
  }

  private onEnd(stream: ClientStream, node: NodeInfo, err: ConnectError | undefined, trailers: Metadata): void {
    if (stream !== this.stream) return;
    // Why the call ended is its error's cause (src/nrpc/errors.ts), never its message text.
    const unreached = isNeverReached(err);
    // A deadline counts against the node only if it never answered (a client's own short deadline on a
    // call the node was serving must not eject a healthy node).
    // A node that answered it does not serve the service is healthy: no mark against it.
    const outcome = !err || isNotServed(err) ? "ok" : unreached ? "no_responders" : err.code === Code.DeadlineExceeded && !stream.reached ? "timeout" : "error";
    this.o.balancer.onCallEnd(node.nid, outcome);
    if (this.finished) return;
    // A unary reply that ends OK without its message (a Go node that could not publish it, a buggy
    // handler) is not a success: the client would read an empty message, or fail on its own.
    if (!err && this.o.singleResponse && this.received === 0) err = new ConnectError(missingResponse, Code.Unimplemented);
    // A call that never reached a node is retried once on another, with every message it had sent (and
    // those that come while the retry is picked: they are kept, and open() sends them all in order);
    // one that may have reached it is never retried.
    if (unreached && this.mayRetry && this.kept && !this.o.call.signal.aborted) {
      this.mayRetry = false; // once
      this.stream = undefined;
      void Promise.resolve(this.pick(new Set([node.nid]))).then(
        (next) => {
          if (next && next.nid !== node.nid && !this.o.call.signal.aborted && this.kept) this.open(next);
          else this.finish(err, trailers);
        },
        () => this.finish(err, trailers),
      );
      return;
    }
    this.finish(err, trailers);
  }

  private finish(err: ConnectError | undefined, trailers: Metadata): void {
    if (this.finished) return;
    this.finished = true;
    if (!err) this.sendHeader(undefined);
    this.o.end(err, trailers);
    this.resolveDone();
  }

  private async pumpRequests(): Promise<void> {
    try {
      for await (const m of this.o.call.requests) {
        if (this.finished) return;
        // A message NATS cannot carry is refused here, before anything of it is published (a call
        // waiting for its first request is never opened).
        const max = this.o.client.maxMessageBytes;
        if (max > 0 && m.length > max) {
          const err = new ConnectError(tooLargeForNats(m.length, this.o.client.maxPayload), Code.ResourceExhausted);
          this.stream?.cancel(err.code, err.rawMessage);
          this.finish(err, new Map());
          return;
        }
        this.o.info.bytesIn += m.length;
        if (this.kept) {
          if (this.stream?.reached || !this.mayRetry || this.kept.length >= maxReplayed) this.kept = undefined;
          else this.kept.push(m);
        }
        if (++this.sentCount === 1) {
          if (!this.kept) this.kept = [m]; // the first message is always sent by open()
          // Reading stops until the call is open: nothing that comes meanwhile can be lost.
          await this.place(m);
          continue;
        }
        if (!this.stream && !this.kept) {
          // A retry is being placed and its replay was given up: the call cannot carry this message.
          this.finish(new ConnectError(`node ${this.node?.nid ?? ""} went away before the call reached it`, Code.Unavailable), new Map());
          return;
        }
        if (!this.admit(m, false)) return;
        this.stream?.send(m);
      }
      this.requestsDone = true;
      if (this.finished) return;
      if (this.sentCount === 0) await this.place(undefined); // half-closed without a message: open with the half-close
      else this.stream?.closeSend();
    } catch (e) {
      if (this.finished) return;
      const err = e instanceof ConnectError ? e : new ConnectError(e instanceof Error ? e.message : "request stream failed", Code.Canceled);
      this.stream?.cancel(err.code, err.rawMessage);
      this.finish(err, new Map());
    }
  }
}
