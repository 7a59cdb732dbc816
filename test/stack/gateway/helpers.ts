/**
 * Helpers for the stack tests: a probe backend that records what reaches it, a raw NATS spy on
 * `nrpc.>`, the echo schema renamed into other packages. (The grpc-websockets client and the gRPC-Web
 * parser are test/helpers/grpc-websockets-client.ts and test/helpers/grpc-web.ts.)
 */
import assert from "node:assert/strict";
import { clone, create, createFileRegistry, fromBinary, toBinary, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Msg, NatsConnection, Subscription } from "@nats-io/nats-core";
import { DiscoveryClient, orderedNrpcKey, orderedNrpcValue, type KeepAliveHandle } from "../../../src/discovery/index.js";
import { EchoRequestSchema, EchoResponseSchema, file_demo_v1_echo, type EchoService } from "../../../src/gen/demo/v1/echo_pb.js";
import { connectNats } from "../../../src/runtime/node/nats-connect.js";
import { NrpcServer, registerService, type HandlerContext, type ServiceImpl } from "../../../src/nrpc/index.js";
import type { Metadata } from "../../../src/core/metadata.js";
import { eventually, type NatsServer } from "../../helpers/nats.js";

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

/** The Connect error code string for a Code (`permission_denied`). */
export const connectCode = (c: Code) => Code[c]!.replace(/[A-Z]/g, (x, i: number) => (i ? "_" : "") + x.toLowerCase());
