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
 * - the handler's receive queue holds one message; a Data that finds it full waits. An `End{}` that
 *   closes the queue while a Data waits is Go's `panic: send on closed channel` (counted in
 *   `stats.panics`, the data dropped; Go would lose the whole process); a Data after the `End{}` is
 *   dropped ("data received after client closeSend", `stats.dropped`);
 * - a Data whose `data` is absent (a 0-byte message: proto3 drops an empty `bytes` field) is read as
 *   end of stream: a unary or server-streaming handler answers `End{UNKNOWN "EOF"}` (`stats.eof`);
 * - unary handlers get the Call metadata; stream handlers get none;
 * - an unknown method of the served service → `End{12 "Unimplemented"}`; a service it does not serve
 *   has no subscriber (NATS "no responders");
 * - `End{status}` cancels (no End back); after its final End a stream is forgotten, and later frames
 *   for the same reply create an orphan entry with no handler, as Go's map does.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Msg, Subscription } from "@nats-io/nats-core";
import { Worker } from "node:worker_threads";
import { echoServiceImpl } from "../../src/demo/echo-service.js";
import { DiscoveryClient, randomNid, type KeepAliveHandle } from "../../src/discovery/index.js";
import { EchoRequestSchema, EchoService } from "../../src/gen/demo/v1/echo_pb.js";
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
   * the node may reorder them whatever the sender's gap — on a loaded machine the node's reads bunch up.
   */
  coalesced: number;
  /** Panics and drops on streams none of whose frames was coalesced: these the sender caused. */
  senderPanics: number;
  senderDropped: number;
}

/** A model node running in this thread. */
export interface GoModelServer {
  readonly nid: string;
  readonly stats: GoModelStats;
  /** The first request message (EchoRequest.message) of each stream that had a coalesced frame. */
  readonly coalescedStreams: Set<string>;
  /** Metadata each call's handler saw, by method name (stream handlers: always empty). */
  readonly metadataSeen: { method: string; metadata: Metadata }[];
  /** Zeroes the counters. */
  reset(): void;
  /** Deregisters and closes. */
  close(): Promise<void>;
}

/** The EchoRequest.message of a `Request.data` envelope ("" if it is not one). */
function echoMessage(envelope: Uint8Array): string {
  try {
    const req = fromBinary(RequestSchema, envelope);
    return req.type.case === "data" ? fromBinary(EchoRequestSchema, req.type.value.data).message : "";
  } catch {
    return "";
  }
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

/** One Go server stream: a receive queue of capacity 1, blocked senders, a closed flag. */
class GoStream {
  handler = false;
  closed = false;
  cancelled = false;
  finished = false;
  readonly ac = new AbortController();
  private readonly buf: (Uint8Array | undefined)[] = [];
  private readonly blocked: Uint8Array[] = [];
  private reader: ((v: Uint8Array | undefined) => void) | undefined;

  constructor(private readonly stats: GoModelStats) {}

  /** A Data task hands its payload over (`s.recvCh <- data`); `undefined` = absent data (EOF). */
  push(data: Uint8Array | undefined): void {
    if (this.closed || this.cancelled) {
      this.stats.dropped++;
      return;
    }
    if (this.reader) {
      const r = this.reader;
      this.reader = undefined;
      r(data);
    } else if (this.buf.length < 1) this.buf.push(data);
    else this.blocked.push(data ?? new Uint8Array(0));
  }

  /** `End{}`: `close(s.recvCh)`; a sender still blocked on it panics in Go. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stats.panics += this.blocked.length;
    this.blocked.length = 0;
    if (this.reader && this.buf.length === 0) {
      const r = this.reader;
      this.reader = undefined;
      r(undefined);
    }
  }

  /** `RecvMsg`: the next payload, or undefined at end of stream (closed, or absent data). */
  recv(): Promise<Uint8Array | undefined> {
    if (this.buf.length) {
      const v = this.buf.shift();
      const next = this.blocked.shift();
      if (next) this.buf.push(next.length ? next : undefined);
      return Promise.resolve(v);
    }
    if (this.closed || this.cancelled) return Promise.resolve(undefined);
    return new Promise((r) => (this.reader = r));
  }

  cancel(reason: ConnectError): void {
    this.cancelled = true;
    this.ac.abort(reason);
    this.close();
  }
}

/** A model node in its worker thread. */
export interface GoModelNode {
  readonly nid: string;
  /** The model's counters, read from the worker. */
  stats(): Promise<GoModelStats>;
  /** See {@link GoModelServer.coalescedStreams}. */
  coalescedStreams(): Promise<Set<string>>;
  /** Metadata each call's handler saw (stream handlers: always empty). */
  metadataSeen(): Promise<{ method: string; metadata: [string, string[]][] }[]>;
  /** Zeroes the counters. */
  reset(): Promise<void>;
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
    coalescedStreams: async () => new Set(await ask<string[]>("coalesced")),
    metadataSeen: () => ask("metadata"),
    reset: () => ask("reset"),
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
  const stats: GoModelStats = { calls: 0, panics: 0, dropped: 0, eof: 0, orphans: 0, coalesced: 0, senderPanics: 0, senderDropped: 0 };
  // The streams (by first message) that had a frame read together with one of their earlier frames.
  const coalescedStreams = new Set<string>();
  const coalescedReplies = new Set<string>();
  const firstMessage = new Map<string, string>();
  const seenData = new Set<string>();
  const metadataSeen: { method: string; metadata: Metadata }[] = [];
  const sched = new GoScheduler();
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
    const panics = stats.panics;
    const dropped = stats.dropped;
    handle(msg, reply, req);
    if (!coalescedReplies.has(reply)) {
      stats.senderPanics += stats.panics - panics;
      stats.senderDropped += stats.dropped - dropped;
    }
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
      const inBatch = sched.go(msg.reply, () => dispatch(msg, bytes));
      if (bytes[0] === 0x1a && !firstMessage.has(msg.reply)) firstMessage.set(msg.reply, echoMessage(bytes));
      // A Call and its first Data leave the sender together by design (a Data before its Call is buffered).
      if (inBatch > 0 && !(inBatch === 1 && bytes[0] === 0x1a && !seenData.has(msg.reply))) {
        stats.coalesced++;
        coalescedReplies.add(msg.reply);
        const first = firstMessage.get(msg.reply);
        if (first !== undefined) coalescedStreams.add(first);
      }
      if (bytes[0] === 0x1a) seenData.add(msg.reply);
      if (coalescedReplies.has(msg.reply) && firstMessage.has(msg.reply)) coalescedStreams.add(firstMessage.get(msg.reply)!);
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
    coalescedStreams,
    metadataSeen,
    reset() {
      coalescedStreams.clear();
      stats.calls = stats.panics = stats.dropped = stats.eof = stats.orphans = stats.coalesced = stats.senderPanics = stats.senderDropped = 0;
      metadataSeen.length = 0;
    },
    async close() {
      sub.unsubscribe();
      await registration.close();
      await nc.close();
    },
  };
}
