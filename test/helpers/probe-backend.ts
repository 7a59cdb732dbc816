/**
 * A probe backend for stack tests (Node test process): a nats-grpc node serving `<pkg>.EchoService`,
 * registered in discovery, that records every call (metadata, abort signal, messages) and behaves as
 * the request message says (fail, sleep, hang, big).
 */

import { Code, ConnectError } from "@connectrpc/connect";
import { DiscoveryClient, orderedNrpcKey, orderedNrpcValue, type KeepAliveHandle } from "../../src/discovery/index.js";
import type { EchoService } from "../../src/gen/demo/v1/echo_pb.js";
import { connectNats } from "../../src/runtime/node/nats-connect.js";
import { NrpcServer, registerService, type HandlerContext, type ServiceImpl } from "../../src/nrpc/index.js";
import type { Metadata } from "../../src/core/metadata.js";
import { eventually, type NatsServer } from "./nats.js";
import { echoServiceIn } from "./echo-schema.js";

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
