/**
 * Helpers for the end-to-end gateway tests: a probe backend that records what reaches it, a raw NATS
 * spy on `nrpc.>`, a `ws` client speaking improbable's grpc-websockets byte by byte, and gRPC-Web /
 * Connect envelope helpers for raw fetch. Written from the protocol specs, not from the gateway's code.
 */
import assert from "node:assert/strict";
import { clone, create, createFileRegistry, fromBinary, toBinary, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Msg, NatsConnection, Subscription } from "@nats-io/nats-core";
import { WebSocket } from "ws";
import { DiscoveryClient, orderedNrpcKey, orderedNrpcValue, type KeepAliveHandle } from "../../../src/discovery/index.js";
import { EchoRequestSchema, EchoResponseSchema, file_demo_v1_echo, type EchoService } from "../../../src/gen/demo/v1/echo_pb.js";
import { connectNats } from "../../../src/runtime/node/nats-connect.js";
import { NrpcServer, registerService, type HandlerContext, type ServiceImpl } from "../../../src/nrpc/index.js";
import type { Metadata } from "../../../src/core/metadata.js";
import { eventually, type NatsServer } from "../../helpers/nats.js";

const enc = new TextEncoder();
const dec = new TextDecoder();

// ---------------------------------------------------------------------------------------------
// Schemas: demo.v1.EchoService renamed into other packages (same wire format), for probe backends.

/** The demo echo file, moved to package `pkg` (`probe.v1` → `probe.v1.EchoService`). */
export function renamedEchoFile(pkg: string): FileDescriptorProto {
  const fp = clone(FileDescriptorProtoSchema, file_demo_v1_echo.proto);
  fp.name = `${pkg.replace(/\./g, "/")}/echo.proto`;
  fp.package = pkg;
  for (const s of fp.service) {
    for (const m of s.method) {
      m.inputType = m.inputType.replace(".demo.v1.", `.${pkg}.`);
      m.outputType = m.outputType.replace(".demo.v1.", `.${pkg}.`);
    }
  }
  return fp;
}

/** A binary FileDescriptorSet of the given files (what `buf build -o x.binpb` writes). */
export function descriptorSet(...files: FileDescriptorProto[]): Uint8Array {
  return toBinary(FileDescriptorSetSchema, create(FileDescriptorSetSchema, { file: files }));
}

/**
 * `<pkg>.EchoService` as a service descriptor that connect-es clients and `registerService` accept in
 * place of the generated `EchoService` (same methods, same messages on the wire).
 */
export function echoServiceIn(pkg: string): typeof EchoService {
  const reg = createFileRegistry(create(FileDescriptorSetSchema, { file: [renamedEchoFile(pkg)] }));
  const s = reg.getService(`${pkg}.EchoService`);
  assert.ok(s);
  return s as DescService as typeof EchoService;
}

/** Serialized `EchoRequest`. */
export const echoReq = (message: string, repeat = 0): Uint8Array<ArrayBuffer> => new Uint8Array(toBinary(EchoRequestSchema, create(EchoRequestSchema, { message, repeat })));
/** Parsed `EchoResponse`. */
export const echoRes = (b: Uint8Array) => fromBinary(EchoResponseSchema, b);

// ---------------------------------------------------------------------------------------------
// The probe backend.

/** One call as the probe backend saw it. */
export interface ProbeCall {
  readonly service: string;
  readonly method: string;
  readonly metadata: Metadata;
  readonly signal: AbortSignal;
  /** Request messages received. */
  readonly requests: string[];
  /** Response messages sent. */
  sent: number;
  /** Set when the handler returned or threw. */
  done: boolean;
}

/** A running probe backend. */
export interface Probe {
  readonly nid: string;
  readonly calls: ProbeCall[];
  readonly server: NrpcServer;
  /** The most recent call to `method` whose first request is `message` (waits for it). */
  call(method: string, message?: string): Promise<ProbeCall>;
  close(): Promise<void>;
}

/** Code of an abort reason as the nrpc server reports it. */
export const abortCode = (s: AbortSignal): Code | undefined => (s.aborted ? (s.reason instanceof ConnectError ? s.reason.code : Code.Unknown) : undefined);

/**
 * A nats-grpc backend serving `<pkg>.EchoService` for each of `packages`, registered in discovery as
 * `service` (route the packages to it with `edge.routes`). It records every call (metadata, abort
 * signal, messages). Behaviour, by the request message:
 * - `error:<code>:<text>`: fails with that status (header `x-probe-err: 1`, trailer `x-probe-err-trailer: 1`);
 * - `sleep:<ms>`: waits, honouring cancellation;
 * - `hang…`: (EchoStream) sends one message, then waits until cancelled;
 * - `big:<bytes>`: (EchoStream) `repeat` messages of that many bytes, yielding to the event loop
 *   between messages as a real node's socket writes would;
 * - anything else: echoes. Every call sets header `x-probe: <nid>` and trailer `x-probe-trailer: <nid>`.
 */
export async function startProbe(nats: NatsServer, opts: { nid: string; service: string; packages: string[] }): Promise<Probe> {
  const nc = await connectNats(nats.url, { name: `test-probe-${opts.nid}` });
  const server = new NrpcServer(nc, { nid: opts.nid });
  const calls: ProbeCall[] = [];
  const nid = opts.nid;

  const begin = (ctx: HandlerContext): ProbeCall => {
    const c: ProbeCall = { service: ctx.service, method: ctx.method, metadata: ctx.metadata, signal: ctx.signal, requests: [], sent: 0, done: false };
    calls.push(c);
    ctx.setHeader(new Map([["x-probe", [nid]]]));
    ctx.setTrailer(new Map([["x-probe-trailer", [nid]]]));
    return c;
  };
  const waitAbort = (signal: AbortSignal, ms = 600_000) =>
    new Promise<void>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const t = setTimeout(resolve, ms);
      signal.addEventListener("abort", () => {
        clearTimeout(t);
        reject(signal.reason);
      }, { once: true });
    });
  const hooks = async (m: string, ctx: HandlerContext) => {
    if (m.startsWith("error:")) {
      const [, code, ...text] = m.split(":");
      ctx.setHeader(new Map([["x-probe-err", ["1"]]]));
      ctx.setTrailer(new Map([["x-probe-err-trailer", ["1"]]]));
      throw new ConnectError(text.join(":") || "probe error", Number(code) as Code);
    }
    if (m.startsWith("sleep:")) await waitAbort(ctx.signal, Number(m.slice(6)));
  };
  const impl: ServiceImpl<typeof EchoService> = {
    async echo(req, ctx) {
      const c = begin(ctx);
      c.requests.push(req.message);
      try {
        await hooks(req.message, ctx);
        c.sent++;
        return { message: req.message, node: nid };
      } finally {
        c.done = true;
      }
    },
    async *echoStream(req, ctx) {
      const c = begin(ctx);
      c.requests.push(req.message);
      try {
        await hooks(req.message, ctx);
        if (req.message.startsWith("hang")) {
          c.sent++;
          yield { message: `${req.message} 0`, node: nid };
          await waitAbort(ctx.signal);
          return;
        }
        const big = req.message.startsWith("big:") ? "x".repeat(Number(req.message.slice(4))) : undefined;
        const n = Math.max(1, req.repeat);
        for (let i = 0; i < n; i++) {
          if (ctx.signal.aborted) return;
          if (big !== undefined) await new Promise((r) => setImmediate(r));
          c.sent++;
          yield { message: big ?? (req.repeat > 1 ? `${req.message} ${i}` : req.message), node: nid };
        }
      } finally {
        c.done = true;
      }
    },
    async echoClientStream(reqs, ctx) {
      const c = begin(ctx);
      try {
        for await (const r of reqs) {
          c.requests.push(r.message);
          await hooks(r.message, ctx);
        }
        c.sent++;
        return { message: c.requests.join(" "), node: nid };
      } finally {
        c.done = true;
      }
    },
    async *echoBidi(reqs, ctx) {
      const c = begin(ctx);
      try {
        for await (const r of reqs) {
          c.requests.push(r.message);
          await hooks(r.message, ctx);
          c.sent++;
          yield { message: r.message, node: nid };
        }
      } finally {
        c.done = true;
      }
    },
  };
  for (const pkg of opts.packages) registerService(server, echoServiceIn(pkg), impl);
  await nc.flush();
  const reg: KeepAliveHandle = new DiscoveryClient(nc).keepAlive({
    nid,
    service: opts.service,
    dc: "dc1",
    rpc: { protocol: "nats-grpc", addr: nats.url, params: {} },
    extraInfo: { [orderedNrpcKey]: orderedNrpcValue },
    source: "discovery",
    lastSeen: Date.now(),
  });
  await reg.ready;
  return {
    nid,
    calls,
    server,
    call: (method, message) =>
      eventually((): ProbeCall | undefined => {
        for (let i = calls.length - 1; i >= 0; i--) {
          const c = calls[i]!;
          if (c.method === method && (message === undefined || c.requests[0] === message)) return c;
        }
        return undefined;
      }, 10_000, `probe call ${method} ${message ?? ""}`) as Promise<ProbeCall>,
    async close() {
      server.close();
      await reg.close();
      await nc.close();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// A raw NATS spy on `nrpc.>`.

/** Records every message published on `nrpc.>` (what the gateway sends to nodes). */
export class NrpcSpy {
  readonly subjects: string[] = [];
  /** The reply subject (the call's inbox) of each message in {@link subjects}. */
  readonly replies: (string | undefined)[] = [];
  /** Inboxes of the control calls run by {@link settle}: their later envelopes are not news. */
  private readonly settled = new Set<string>();
  private constructor(
    private readonly nc: NatsConnection,
    private readonly sub: Subscription,
  ) {}

  static async start(nats: NatsServer): Promise<NrpcSpy> {
    const nc = await connectNats(nats.url, { name: "test-nrpc-spy" });
    let spy!: NrpcSpy;
    const sub = nc.subscribe("nrpc.>", {
      callback: (_e, m: Msg) => {
        spy.subjects.push(m.subject);
        spy.replies.push(m.reply);
      },
    });
    spy = new NrpcSpy(nc, sub);
    await nc.flush();
    return spy;
  }

  /** Index to compare against later (only safe when nothing was published just before). */
  mark(): number {
    return this.subjects.length;
  }

  /**
   * An index after everything the gateway published so far: runs `control` and waits for its subject.
   * The spy's own delivery lags the gateway; a plain `mark()` taken right after earlier calls can
   * count their late-delivered messages as new (seen in CI). The control call's own later envelopes
   * (its Data after its Call) may still arrive after the index: {@link between} skips them by inbox.
   */
  async settle(control: () => Promise<unknown>, controlSuffix: string): Promise<number> {
    const from = this.subjects.length;
    await control();
    return eventually(() => {
      const i = this.subjects.findIndex((s, j) => j >= from && s.endsWith(controlSuffix));
      if (i < 0) return 0;
      const reply = this.replies[i];
      if (reply !== undefined) this.settled.add(reply);
      return i + 1;
    }, 10_000, "control call on nrpc.>");
  }

  /**
   * Runs `control` (a call that does reach a node on a subject ending in `controlSuffix`) and returns
   * what was published on `nrpc.>` between `mark` and the control call's first message, leaving out
   * the envelopes of earlier control calls. The gateway publishes in order on one connection, so
   * anything an earlier call published arrives first.
   */
  async between(mark: number, control: () => Promise<unknown>, controlSuffix: string): Promise<string[]> {
    await control();
    const news = (j: number) => !this.settled.has(this.replies[j] ?? "");
    const at = await eventually(() => {
      const i = this.subjects.findIndex((s, j) => j >= mark && news(j) && s.endsWith(controlSuffix));
      return i >= 0 ? i + 1 : 0;
    }, 10_000, "control call on nrpc.>");
    const reply = this.replies[at - 1];
    if (reply !== undefined) this.settled.add(reply);
    return this.subjects.slice(mark, at - 1).filter((_s, k) => news(mark + k));
  }

  async close(): Promise<void> {
    this.sub.unsubscribe();
    await this.nc.close();
  }
}

// ---------------------------------------------------------------------------------------------
// grpc-websockets (improbable-eng), byte by byte.

/** The client's header frame: `k: v\r\n` lines, sent as its own WebSocket message. */
export const wsHeaderFrame = (md: Record<string, string> = {}) =>
  enc.encode(Object.entries({ "content-type": "application/grpc-web+proto", "x-grpc-web": "1", ...md }).map(([k, v]) => `${k}: ${v}\r\n`).join(""));
/** A client data frame: 0x00 marker, then a gRPC-Web envelope (flags, u32 length, message). */
export function wsDataFrame(msg: Uint8Array): Uint8Array<ArrayBuffer> {
  const f = new Uint8Array(6 + msg.length);
  new DataView(f.buffer).setUint32(2, msg.length);
  f.set(msg, 6);
  return f;
}
/** The client's half-close: one 0x01 byte. */
export const wsHalfClose = Uint8Array.of(0x01);

/** A frame the server sent. */
export type WsFrame = { kind: "header"; text: string; md: Map<string, string> } | { kind: "data"; data: Uint8Array };

function parseHeaderBlock(text: string): Map<string, string> {
  const md = new Map<string, string>();
  for (const line of text.split("\r\n")) {
    const i = line.indexOf(":");
    if (i > 0) md.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
  return md;
}

/** A `ws` client for one grpc-websockets call, recording every server frame and the close. */
export class WsCall {
  readonly ws: WebSocket;
  /** Frames completed by each WebSocket message, one entry per message. */
  readonly messages: WsFrame[][] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  /** HTTP status if the upgrade was refused. */
  refused: number | undefined;
  /** Whether the response header frame was the last bytes of its WebSocket message (improbable needs it). */
  headerEndedMessage: boolean | undefined;
  private waiters: (() => void)[] = [];
  private isClosed = false;

  constructor(url: string, opts: { origin?: string; protocols?: string[] } = {}) {
    this.ws = new WebSocket(url, opts.protocols ?? ["grpc-websockets"], opts.origin ? { origin: opts.origin } : {});
    this.opened = new Promise((resolve, reject) => {
      this.ws.once("open", () => resolve());
      this.ws.once("error", reject);
      this.ws.once("unexpected-response", (_req, res) => {
        this.refused = res.statusCode;
        res.resume();
        reject(new Error(`HTTP ${res.statusCode}`));
        this.ws.terminate();
      });
    });
    this.opened.catch(() => {});
    // Improbable's client parses WS messages as a stream: data frames may be split or batched freely;
    // only the response header frame must end its message (bytes after it wait for the next message).
    let buf = new Uint8Array(0);
    this.ws.on("message", (data, binary) => {
      assert.ok(binary, "server messages are binary");
      const m = new Uint8Array(data as Buffer);
      const all = new Uint8Array(buf.length + m.length);
      all.set(buf);
      all.set(m, buf.length);
      const frames: WsFrame[] = [];
      let i = 0;
      while (i + 5 <= all.length) {
        const flags = all[i]!;
        const len = new DataView(all.buffer, i + 1, 4).getUint32(0);
        if (i + 5 + len > all.length) break;
        const payload = all.slice(i + 5, i + 5 + len);
        i += 5 + len;
        if (flags & 0x80) {
          const text = dec.decode(payload);
          if (!this.frames.some((f) => f.kind === "header") && !frames.some((f) => f.kind === "header")) {
            this.headerEndedMessage = i === all.length;
          }
          frames.push({ kind: "header", text, md: parseHeaderBlock(text) });
        } else frames.push({ kind: "data", data: payload });
      }
      buf = all.slice(i);
      this.messages.push(frames);
      this.wake();
    });
    this.closed = new Promise((resolve) =>
      this.ws.once("close", (code, reason) => {
        this.isClosed = true;
        this.wake();
        resolve({ code, reason: reason.toString() });
      }),
    );
  }

  /** Opens, sends the header frame (alone), then each message as a data frame; half-closes if asked. */
  async start(md: Record<string, string>, msgs: Uint8Array[] = [], halfClose = false): Promise<this> {
    await this.opened;
    this.ws.send(wsHeaderFrame(md));
    for (const m of msgs) this.ws.send(wsDataFrame(m));
    if (halfClose) this.ws.send(wsHalfClose);
    return this;
  }

  send(msg: Uint8Array): void {
    this.ws.send(wsDataFrame(msg));
  }

  halfClose(): void {
    this.ws.send(wsHalfClose);
  }

  get frames(): WsFrame[] {
    return this.messages.flat();
  }

  /** Response messages received so far. */
  get data(): Uint8Array[] {
    return this.frames.flatMap((f) => (f.kind === "data" ? [f.data] : []));
  }

  /** Waits until `n` response messages arrived. */
  async waitData(n: number): Promise<Uint8Array[]> {
    for (;;) {
      const d = this.data;
      if (d.length >= n) return d;
      if (this.isClosed) throw new Error(`closed after ${d.length} messages`);
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  /**
   * Waits for the close; returns the response headers, messages, trailers (the last header frame,
   * holding grpc-status) and the close code.
   */
  async result(): Promise<{ headers: Map<string, string>; data: Uint8Array[]; trailers: Map<string, string>; code: Code; message: string; close: number; trailersLast: boolean }> {
    const close = await this.closed;
    const frames = this.frames;
    const hdrs = frames.filter((f): f is Extract<WsFrame, { kind: "header" }> => f.kind === "header");
    const last = hdrs.at(-1);
    assert.ok(last?.md.has("grpc-status"), `a trailer frame with grpc-status (got ${JSON.stringify(hdrs.map((h) => h.text))})`);
    assert.ok(last);
    const first = hdrs.length > 1 ? hdrs[0]! : last;
    if (hdrs.length > 1) assert.equal(this.headerEndedMessage, true, "the response header frame ends its WebSocket message");
    return {
      headers: first.md,
      data: this.data,
      trailers: last.md,
      code: Number(last.md.get("grpc-status")) as Code,
      message: decodeURIComponent(last.md.get("grpc-message") ?? ""),
      close: close.code,
      trailersLast: frames.at(-1) === last,
    };
  }

  close(): void {
    this.ws.close();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

/** One complete grpc-websockets call: header frame, messages, half-close; then the result. */
export async function wsCall(wsUrl: string, path: string, md: Record<string, string>, msgs: Uint8Array[], opts: { origin?: string } = {}) {
  const c = new WsCall(wsUrl + path, opts);
  await c.start(md, msgs, true);
  return c.result();
}

// ---------------------------------------------------------------------------------------------
// Envelopes for raw fetch (gRPC-Web, Connect streaming).

/** flags(1) | length(u32 BE) | data */
export function envelope(data: Uint8Array, flags = 0): Uint8Array<ArrayBuffer> {
  const f = new Uint8Array(5 + data.length);
  f[0] = flags;
  new DataView(f.buffer).setUint32(1, data.length);
  f.set(data, 5);
  return f;
}

/** Splits a body into envelopes. */
export function envelopes(body: Uint8Array): { flags: number; data: Uint8Array }[] {
  const out: { flags: number; data: Uint8Array }[] = [];
  for (let i = 0; i < body.length; ) {
    assert.ok(i + 5 <= body.length, "envelope prefix complete");
    const len = new DataView(body.buffer, body.byteOffset + i + 1, 4).getUint32(0);
    assert.ok(i + 5 + len <= body.length, "envelope complete");
    out.push({ flags: body[i]!, data: body.slice(i + 5, i + 5 + len) });
    i += 5 + len;
  }
  return out;
}

/** A gRPC-Web response body: messages, and the trailer frame's fields (or the HTTP headers for trailers-only). */
export function grpcWebResult(headers: Headers, body: Uint8Array): { data: Uint8Array[]; trailers: Map<string, string>; code: Code; message: string } {
  const frames = envelopes(body);
  const data = frames.filter((f) => (f.flags & 0x80) === 0).map((f) => f.data);
  const t = frames.find((f) => f.flags & 0x80);
  let trailers: Map<string, string>;
  if (t) {
    assert.equal(frames.at(-1), t, "the trailer frame is last");
    trailers = parseHeaderBlock(dec.decode(t.data));
  } else {
    trailers = new Map();
    headers.forEach((v, k) => trailers.set(k, v));
  }
  return { data, trailers, code: Number(trailers.get("grpc-status")) as Code, message: decodeURIComponent(trailers.get("grpc-message") ?? "") };
}

/** Standard base64 (gRPC-Web-text), and base64url without padding (Connect GET). */
export const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");
export const b64url = (b: Uint8Array) => Buffer.from(b).toString("base64url");
/** Decodes a gRPC-Web-text body (concatenated base64 chunks, each possibly padded). */
export function fromGrpcWebText(text: string): Uint8Array {
  const parts = text.match(/[^=]+=*/g) ?? [];
  return new Uint8Array(Buffer.concat(parts.map((p) => Buffer.from(p, "base64"))));
}

/** Async iterable of `items`, optionally waiting between items. */
export async function* gen<T>(items: T[], gapMs = 0): AsyncIterable<T> {
  for (const i of items) {
    if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
    yield i;
  }
}

/** The Connect error code string for a Code (`permission_denied`). */
export const connectCode = (c: Code) => Code[c]!.replace(/[A-Z]/g, (x, i: number) => (i ? "_" : "") + x.toLowerCase());

/** An async iterable fed by `push`, ended by `end` (interleaved bidi from connect-es clients). */
export function pushable<T>(): { iterable: AsyncIterable<T>; push(v: T): void; end(): void } {
  const items: T[] = [];
  let ended = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  return {
    iterable: {
      async *[Symbol.asyncIterator]() {
        for (;;) {
          if (items.length) yield items.shift()!;
          else if (ended) return;
          else await new Promise<void>((r) => (wake = r));
        }
      },
    },
    push(v) {
      items.push(v);
      notify();
    },
    end() {
      ended = true;
      notify();
    },
  };
}
