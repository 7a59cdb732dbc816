/**
 * A Go-behaviour model node for tests: a nats-grpc server that behaves like cloudwebrtc/nats-grpc
 * v1.0.0 (ION v1.10's pin), written from ../shared/spec/nats-grpc-and-discovery.md §1.5, §1.8, §1.10,
 * serving demo.v1.EchoService and registered in nats-discovery as a Go ION node would be (no
 * `nrpc` marker in its ExtraInfo). {@link startGoModelNode} runs it in a worker thread
 * (test/helpers/go-model-worker.ts), a separate event loop as a Go node is a separate process: in the
 * test's own loop, busy with the gateway and the clients, frames sent apart would be read together.
 *
 * What it copies from the Go server:
 * - every NATS message is handled in its own task (Go: two goroutines deep, unmarshal → dispatch), and
 *   tasks are scheduled like Go's runtime does them: the newest task of a batch (the messages of
 *   one socket read) runs first (Go's `runnext` slot), the others follow in random order. Frames of one
 *   stream that arrive together are reordered; frames that arrive apart stay in order — as measured in
 *   Go (spec §1.10). A loaded node reads more frames together, and so reorders more, as Go does;
 * - a stream is created by its first message of any type (a Data before its Call is buffered);
 * - the handler's receive queue holds one message; a Data that finds it full waits in line (Go's
 *   channel send queue is FIFO). `End{}` sends nil into the queue the same way, behind the Data already
 *   waiting, and closes it once the nil is in (`processEnd`); a Data that comes while the End waits is
 *   closed on — Go's `panic: send on closed channel` (counted in `stats.panics`, the data dropped; Go
 *   loses the whole process); a Data after the close is dropped ("data received after client
 *   closeSend", `stats.dropped`);
 * - a Data whose `data` is absent (a 0-byte message: proto3 drops an empty `bytes` field) is read as
 *   end of stream: a unary or server-streaming handler answers `End{UNKNOWN "EOF"}` (`stats.eof`);
 * - unary handlers get the Call metadata; stream handlers get none;
 * - an unknown method of the served service → `End{12 "Unimplemented"}`; a service it does not serve
 *   has no subscriber (NATS "no responders");
 * - `End{status}` cancels (no End back; senders waiting on the queue block for ever, nothing panics);
 *   after its final End a stream is forgotten, and later frames for the same reply create an orphan
 *   entry with no handler, as Go's map does.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Msg, NatsConnection, Subscription } from "@nats-io/nats-core";
import { Worker } from "node:worker_threads";
import { echoServiceImpl } from "../../src/demo/echo-service.js";
import { DiscoveryClient, randomNid, type KeepAliveHandle } from "../../src/discovery/index.js";
import { EchoService } from "../../src/gen/demo/v1/echo_pb.js";
import { RequestSchema, ResponseSchema } from "../../src/gen/nrpc/nrpc_pb.js";
import { connectNats } from "../../src/runtime/node/nats-connect.js";
import { encodeBegin, encodeData, encodeResponseEnd, fromWireMetadata } from "../../src/nrpc/envelope.js";
import { registerService, type NrpcServer, type RawMethodHandler, type ServerCall } from "../../src/nrpc/index.js";
import { servicePrefix } from "../../src/nrpc/subject.js";
import type { Metadata } from "../../src/core/metadata.js";

/** Options of {@link startGoModelNode}. */
export interface GoModelOptions {
  /** NATS URL to connect to (TCP). */
  natsUrl: string;
  nid?: string;
  /** Discovery service (default `demo`). */
  service?: string;
  /** ExtraInfo to register with (default none, as Go ION nodes). */
  extraInfo?: Record<string, unknown>;
  /**
   * A subject on which the sender's side publishes {@link startSenderTicks}: ticks held on their way
   * (the NATS server not reading the sender's connection) count as stalls, as the node's own do.
   */
  senderTickSubject?: string;
}

/** The time on a clock every thread of the process shares: its thread's origin plus `performance.now()`. */
const sharedNow = () => performance.timeOrigin + performance.now();

/**
 * Publishes a tick every ms on `nc` (the sender's NATS connection: a gateway's) to `subject`, carrying
 * the time it was sent; a model node given the subject as `senderTickSubject` reads a tick that came
 * late as a stall on the sender's side of the NATS server. Returns the stop.
 */
export function startSenderTicks(nc: NatsConnection, subject: string): () => void {
  const t = setInterval(() => {
    if (!nc.isClosed()) nc.publish(subject, new Uint8Array(Float64Array.of(sharedNow()).buffer));
  }, 1);
  return () => clearInterval(t);
}

/** What the model saw; every counter is a Go failure mode the gateway must not cause. */
export interface GoModelStats {
  /** Calls started (a Call for a known method). */
  calls: number;
  /** Data still waiting to enter a stream's queue when `End{}` closed it: a crash in Go. */
  panics: number;
  /** Data that arrived after `End{}` had closed its stream: dropped in Go. */
  dropped: number;
  /** Unary / server-streaming calls that read end of stream instead of their request (`EOF`). */
  eof: number;
  /** Frames for a stream that had already finished (orphan map entries in Go). */
  orphans: number;
  /**
   * Frames read together with an earlier frame of their stream (the Call and first Data excepted):
   * the node may reorder them whatever the sender's gap (a node not scheduled for longer than the gap
   * reads what came meanwhile at once, as a Go node does). For the report, not a failure in itself.
   */
  coalesced: number;
}

/** A model node running in this thread. */
export interface GoModelServer {
  readonly nid: string;
  readonly stats: GoModelStats;
  /** Metadata each call's handler saw, by method name (stream handlers: always empty). */
  readonly metadataSeen: { method: string; metadata: Metadata }[];
  /** Zeroes the counters. */
  reset(): void;
  /**
   * Since the last call: the longest stall on the way to the node (its thread not running, or the NATS
   * server holding its messages: a tick it publishes to itself every ms arrives late; or, with
   * `senderTickSubject`, not reading the sender's connection: the sender's tick arrives late) that ended within
   * 2 ms of a read that held frames of one stream together (counted in `stats.coalesced`); 0 if none.
   * A node (or NATS server) not scheduled for longer than the sender's gap delivers the frames that
   * came meanwhile at once, and they are reordered whatever the sender did — as with a starved Go
   * process; frames read together with no such stall came together from the sender.
   */
  coalescedStallMs(): number;
  /** Deregisters and closes. */
  close(): Promise<void>;
}

/**
 * Go's scheduler, as far as ordering goes: the tasks started by one batch of messages (one socket
 * read) run newest first (Go's `runnext` slot), then the others in random order (other Ps steal from
 * the run queue). A batch's tasks all run before the next read is handled: Go starts goroutines within
 * microseconds, so frames that arrive apart stay in order (spec §1.10: 1 ms apart, 30/30 in order).
 */
class GoScheduler {
  private batch: (() => void)[] = [];
  private scheduled = false;
  /** Frames per stream (reply subject) in the batch being collected. */
  private keys = new Map<string, number>();

  /** True while a batch (one socket read) is being collected. */
  get collecting(): boolean {
    return this.scheduled;
  }

  /** `go fn()` for a frame of stream `key`; returns how many frames of it the batch held before. */
  go(key: string, fn: () => void): number {
    const before = this.keys.get(key) ?? 0;
    this.keys.set(key, before + 1);
    this.batch.push(fn);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.flush); // after the messages of this socket read (nats.js delivers them synchronously)
    }
    return before;
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const b = this.batch;
    this.batch = [];
    this.keys = new Map();
    const newest = b.pop();
    newest?.();
    for (let i = b.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [b[i], b[j]] = [b[j]!, b[i]!];
    }
    for (const fn of b) fn();
  };
}

/**
 * One Go server stream: `recvCh` (capacity 1) and the senders waiting on it, in line (Go's channel
 * `sendq` is FIFO). A Data task sends its payload (`s.recvWrite <- data`); `End{}` sends nil the same
 * way and closes the channel once the nil is in (`processEnd`), so Data already waiting go first.
 */
class GoStream {
  handler = false;
  /** `End{}` is in line or done: Data sent after it would be closed on (Go's `send on closed channel`). */
  ending = false;
  /** The channel is closed (`recvWrite == nil`): later Data is dropped ("data received after client closeSend"). */
  closed = false;
  cancelled = false;
  finished = false;
  readonly ac = new AbortController();
  private readonly buf: (Uint8Array | undefined)[] = [];
  /** Senders waiting for room, oldest first; `undefined` is the End's nil. */
  private readonly sendq: (Uint8Array | undefined)[] = [];
  private reader: ((v: Uint8Array | undefined) => void) | undefined;

  constructor(private readonly stats: GoModelStats) {}

  /** A Data task hands its payload over; `undefined` = absent data (read as EOF by the handler). */
  push(data: Uint8Array | undefined): void {
    if (this.closed || this.cancelled) {
      // Go: after close, or after a cancel (then the sender blocks forever: the data is lost either way).
      this.stats.dropped++;
      return;
    }
    if (this.ending) {
      // In line behind the End's nil: the channel is closed under it (Go crashes the process).
      this.stats.panics++;
      return;
    }
    this.send(data ?? new Uint8Array(0));
  }

  /** `End{}`: nil into the channel, in line, then `close(s.recvWrite)`. A second End finds it nil. */
  close(): void {
    if (this.ending || this.cancelled) return;
    this.ending = true;
    this.send(undefined);
  }

  /** `ch <- v`: to a waiting reader, else the buffer, else in line. */
  private send(v: Uint8Array | undefined): void {
    if (this.reader) {
      const r = this.reader;
      this.reader = undefined;
      this.accepted(v);
      r(v?.length ? v : undefined);
    } else if (this.buf.length < 1) {
      this.accepted(v);
      this.buf.push(v);
    } else this.sendq.push(v);
  }

  /** The End's nil is in: the channel is closed now. */
  private accepted(v: Uint8Array | undefined): void {
    if (v === undefined) this.closed = true;
  }

  /** `RecvMsg`: the next payload, or undefined at end of stream (nil, absent data, closed, cancelled). */
  recv(): Promise<Uint8Array | undefined> {
    if (this.cancelled) return Promise.resolve(undefined);
    if (this.buf.length) {
      const v = this.buf.shift();
      if (this.sendq.length) {
        const next = this.sendq.shift();
        this.accepted(next);
        this.buf.push(next);
      }
      return Promise.resolve(v?.length ? v : undefined);
    }
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((r) => (this.reader = r));
  }

  /** `End{status}`: the stream's context is cancelled; nothing is closed (waiting senders block forever). */
  cancel(reason: ConnectError): void {
    this.cancelled = true;
    this.ac.abort(reason);
    const r = this.reader;
    this.reader = undefined;
    r?.(undefined);
  }
}

/** A model node in its worker thread. */
export interface GoModelNode {
  readonly nid: string;
  /** The model's counters, read from the worker. */
  stats(): Promise<GoModelStats>;
  /** Metadata each call's handler saw (stream handlers: always empty). */
  metadataSeen(): Promise<{ method: string; metadata: [string, string[]][] }[]>;
  /** Zeroes the counters. */
  reset(): Promise<void>;
  /** See {@link GoModelServer.coalescedStallMs}; with the counters as they are now. */
  window(): Promise<{ coalescedStallMs: number; stats: GoModelStats }>;
  /** Deregisters, closes and ends the worker. */
  close(): Promise<void>;
}

/** Starts a model node serving demo.v1.EchoService in a worker thread. */
export async function startGoModelNode(opts: GoModelOptions): Promise<GoModelNode> {
  // Workers do not inherit tsx's loader hooks (Node 20): the entry registers them, then loads the model.
  const entry = new URL("./go-model-worker.ts", import.meta.url).href;
  const tsx = import.meta.resolve("tsx/esm/api");
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
  const worker = new Worker(boot, { eval: true, workerData: opts });
  let seq = 0;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  let failed: unknown;
  const fail = (e: unknown) => {
    failed ??= e;
    for (const p of pending.values()) p.reject(e);
    pending.clear();
  };
  worker.on("error", fail);
  worker.on("exit", (code) => fail(new Error(`go model worker exited (${code})`)));
  worker.on("message", (m: { id: number; value: unknown }) => {
    pending.get(m.id)?.resolve(m.value);
    pending.delete(m.id);
  });
  const ask = <T>(op: string): Promise<T> =>
    new Promise((resolve, reject) => {
      if (failed) return reject(failed);
      const id = ++seq;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      worker.postMessage({ id, op });
    });
  const nid = await ask<string>("start");
  return {
    nid,
    stats: () => ask("stats"),
    metadataSeen: () => ask("metadata"),
    reset: () => ask("reset"),
    window: () => ask("window"),
    async close() {
      await ask("close");
      await worker.terminate();
    },
  };
}

/** Serves the model in this thread (the worker's side of {@link startGoModelNode}). */
export async function serveGoModel(opts: GoModelOptions): Promise<GoModelServer> {
  const nid = opts.nid ?? randomNid("gomodel");
  const nc = await connectNats(opts.natsUrl, { name: `test-go-model-${nid}` });
  const stats: GoModelStats = { calls: 0, panics: 0, dropped: 0, eof: 0, orphans: 0, coalesced: 0 };
  // Streams (reply subjects) whose first Data has come.
  const seenData = new Set<string>();
  const metadataSeen: { method: string; metadata: Metadata }[] = [];
  const sched = new GoScheduler();
  // Stalls on the way to the node: its own thread not running (a 1 ms tick that came late), and the
  // NATS server holding its messages (the tick is also published to itself through NATS: a late
  // arrival is a held path). Frames held by a stall arrive together when it ends.
  const stalls: { end: number; ms: number }[] = [];
  const coalescedAt: number[] = [];
  const tickSubject = `_gomodel.tick.${nid}`;
  const tickBytes = new Float64Array(1);
  let lastTick = performance.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    if (now - lastTick - 1 >= 0.5) stalls.push({ end: now, ms: now - lastTick - 1 });
    lastTick = now;
    tickBytes[0] = now;
    if (!nc.isClosed()) nc.publish(tickSubject, new Uint8Array(tickBytes.buffer.slice(0)));
  }, 1);
  const tickSub = nc.subscribe(tickSubject, {
    callback: (_e, m) => {
      const now = performance.now();
      const sent = new Float64Array(m.data.buffer.slice(m.data.byteOffset, m.data.byteOffset + 8))[0]!;
      if (now - sent >= 0.5) stalls.push({ end: now, ms: now - sent });
    },
  });
  // The sender's ticks (see startSenderTicks): their delay past the least one seen (the clocks' offset
  // and the quickest trip) is a hold on the way from the sender, e.g. the NATS server not reading its
  // connection — which delivers frames sent apart together, as a stall of the node's does. A late
  // tick says the hold began after the previous tick left: a frame sent right after that one may have
  // been held from then until this tick came, the stall recorded (a tick's delay alone falls short of
  // the hold by up to one tick period).
  let senderBase = Infinity;
  let prevSent: number | undefined;
  const senderTickSub =
    opts.senderTickSubject === undefined
      ? undefined
      : nc.subscribe(opts.senderTickSubject, {
          callback: (_e, m) => {
            const sent = new Float64Array(m.data.buffer.slice(m.data.byteOffset, m.data.byteOffset + 8))[0]!;
            const arrived = sharedNow();
            senderBase = Math.min(senderBase, arrived - sent);
            if (arrived - sent - senderBase >= 0.5) stalls.push({ end: performance.now(), ms: arrived - senderBase - (prevSent ?? sent) });
            prevSent = sent;
          },
        });
  const streams = new Map<string, GoStream>();
  const finished = new Set<string>();

  // The demo implementation, registered through a stand-in that only keeps the raw handlers.
  const handlers = new Map<string, RawMethodHandler>();
  const capture = { register: (_s: string, m: Record<string, RawMethodHandler>) => Object.entries(m).forEach(([k, v]) => handlers.set(k, v)) };
  registerService(capture as unknown as NrpcServer, EchoService, echoServiceImpl(nid));
  const kinds = new Map(EchoService.methods.map((m) => [m.name, m.methodKind]));

  const service = EchoService.typeName;
  const prefix = servicePrefix(nid, service);
  const publish = (reply: string, bytes: Uint8Array) => {
    if (!nc.isClosed()) nc.publish(reply, bytes);
  };

  const start = (reply: string, s: GoStream, method: string, md: Metadata) => {
    const handler = handlers.get(method)!;
    const kind = kinds.get(method)!;
    const single = kind === "unary" || kind === "server_streaming";
    // Stream handlers' contexts carry no request metadata (spec §1.10).
    const metadata = kind === "unary" ? md : new Map<string, string[]>();
    metadataSeen.push({ method, metadata });
    let header: Metadata | undefined;
    let trailer: Metadata | undefined;
    let headerSent = false;
    const flushHeader = () => {
      if (headerSent) return;
      headerSent = true;
      if (header?.size) publish(reply, encodeBegin(header, nid));
    };
    const end = (err: ConnectError | undefined) => {
      s.finished = true;
      streams.delete(reply);
      finished.add(reply);
      if (s.cancelled) return; // the final End is sent only if the stream's ctx was not cancelled
      flushHeader();
      publish(reply, encodeResponseEnd(err, trailer));
    };
    void (async () => {
      let requests: AsyncIterable<Uint8Array>;
      if (single) {
        // Go's generated handler: RecvMsg once; EOF (closed, or absent data) is returned as the error.
        const first = await s.recv();
        if (first === undefined) {
          stats.eof++;
          return end(new ConnectError("EOF", Code.Unknown));
        }
        requests = (async function* () {
          yield first;
        })();
      } else {
        requests = (async function* () {
          for (;;) {
            const m = await s.recv();
            if (m === undefined) return;
            yield m;
          }
        })();
      }
      const call: ServerCall = {
        service,
        method,
        metadata,
        peerNid: "",
        signal: s.ac.signal,
        requests,
        setHeader(m) {
          header ??= new Map();
          for (const [k, v] of m) header.set(k, [...(header.get(k) ?? []), ...v]);
        },
        setTrailer(m) {
          trailer ??= new Map();
          for (const [k, v] of m) trailer.set(k, [...(trailer.get(k) ?? []), ...v]);
        },
        send(data) {
          if (s.finished || s.cancelled) throw new ConnectError("stream finished", Code.Canceled);
          flushHeader();
          publish(reply, encodeData(data));
        },
      };
      try {
        await handler(call);
        end(undefined);
      } catch (e) {
        end(e instanceof ConnectError ? e : new ConnectError(String(e), Code.Unknown));
      }
    })();
  };

  // Hop 2: dispatch one decoded request to its stream.
  const dispatch = (msg: Msg, bytes: Uint8Array) => {
    const reply = msg.reply!;
    let req;
    try {
      req = fromBinary(RequestSchema, bytes);
    } catch {
      return; // Go logs the unmarshal error and drops the message
    }
    handle(msg, reply, req);
  };

  const handle = (msg: Msg, reply: string, req: ReturnType<typeof fromBinary<typeof RequestSchema>>) => {
    let s = streams.get(reply);
    if (!s) {
      // The first message of any type creates the stream (after a finished one: an orphan entry).
      if (finished.has(reply)) stats.orphans++;
      s = new GoStream(stats);
      streams.set(reply, s);
    }
    switch (req.type.case) {
      case "call": {
        if (s.handler) return;
        const method = msg.subject.slice(prefix.length + 1);
        if (!handlers.has(method)) {
          streams.delete(reply);
          publish(reply, toBinary(ResponseSchema, create(ResponseSchema, { type: { case: "end", value: { status: { code: Code.Unimplemented, message: "Unimplemented" } } } })));
          return;
        }
        s.handler = true;
        stats.calls++;
        start(reply, s, method, fromWireMetadata(req.type.value.metadata));
        return;
      }
      case "data": {
        const d = req.type.value.data;
        s.push(d.length === 0 ? undefined : d); // proto3: an empty bytes field is absent, nil in Go
        return;
      }
      case "end":
        if (req.type.value.status) s.cancel(new ConnectError(req.type.value.status.message, Code.Canceled));
        else s.close();
        return;
      default:
        return;
    }
  };

  const sub: Subscription = nc.subscribe(`${prefix}.>`, {
    queue: service,
    callback: (err, msg) => {
      if (err || !msg.reply) return;
      const bytes = msg.data;
      if (bytes.length === 0) return;
      // Go: a goroutine per message unmarshals, and starts another that dispatches. One reordering
      // stage per read here: a second one would mix the tasks of the next read into this read's batch.
      if (!sched.collecting) {
        // The first message of a read: had the thread not run for a while?
        const now = performance.now();
        if (now - lastTick - 1 >= 0.5) stalls.push({ end: now, ms: now - lastTick - 1 });
      }
      const inBatch = sched.go(msg.reply, () => dispatch(msg, bytes));
      // A Call and its first Data leave the sender together by design (a Data before its Call is buffered).
      if (inBatch > 0 && !(inBatch === 1 && bytes[0] === 0x1a && !seenData.has(msg.reply))) {
        stats.coalesced++;
        coalescedAt.push(performance.now());
      }
      if (bytes[0] === 0x1a) seenData.add(msg.reply);
    },
  });
  await nc.flush();
  const registration: KeepAliveHandle = new DiscoveryClient(nc).keepAlive({
    nid,
    service: opts.service ?? "demo",
    dc: "dc1",
    rpc: { protocol: "nats-grpc", addr: opts.natsUrl, params: {} },
    extraInfo: opts.extraInfo ?? {},
    source: "discovery",
    lastSeen: Date.now(),
  });
  await registration.ready;
  return {
    nid,
    stats,
    metadataSeen,
    reset() {
      seenData.clear();
      coalescedAt.length = 0;
      stalls.length = 0;
      stats.calls = stats.panics = stats.dropped = stats.eof = stats.orphans = stats.coalesced = 0;
      metadataSeen.length = 0;
    },
    coalescedStallMs() {
      // The longest stall that ended within 2 ms of a read that held frames of a stream together.
      let ms = 0;
      for (const t of coalescedAt) for (const st of stalls) if (Math.abs(st.end - t) <= 2) ms = Math.max(ms, st.ms);
      coalescedAt.length = 0;
      stalls.length = 0;
      return ms;
    },
    async close() {
      clearInterval(ticker);
      tickSub.unsubscribe();
      senderTickSub?.unsubscribe();
      sub.unsubscribe();
      await registration.close();
      await nc.close();
    },
  };
}
