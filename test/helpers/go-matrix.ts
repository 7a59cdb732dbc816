/**
 * The protocol matrix against a Go-behaviour node (test/helpers/go-model-node.ts): single-request
 * calls on every protocol the gateway speaks (counting `EOF` endings), and bursts of 20 messages
 * (client streaming and bidi) checked for completeness and order. Used by test/stack/gateway/go-nodes.test.ts
 * and the bench; it only drives clients and counts, it asserts nothing.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { EchoRequestSchema, EchoService } from "../../src/gen/demo/v1/echo_pb.js";
import { echoRes } from "./echo-schema.js";
import { WsCall } from "./grpc-websockets-client.js";

/** Outcome counts of one matrix cell. */
export interface CellResult {
  ok: number;
  eof: number;
  other: number;
  /** A few failure texts, for the report. */
  samples: string[];
}

/** Result of {@link runSingleCalls}. */
export type SingleResults = Record<string, CellResult>;
/**
 * Result of {@link runBursts}: per cell, bursts complete and in order out of those counted, the bursts
 * a {@link BurstJudge} voided (and how many of them were in order), and the first message of each
 * failed burst (unique per burst: `<cell>#<run>`).
 */
export type BurstResults = Record<string, { inOrder: number; runs: number; voided: number; voidedInOrder: number; samples: string[]; failed: string[] }>;

/**
 * Says whether a burst counts: `before` is awaited before it is sent, `counts` after its result.
 * A burst that does not count is run again (up to twice as many extra runs as asked, then the cell
 * reports fewer runs).
 */
export interface BurstJudge {
  before(): Promise<void>;
  counts(): Promise<boolean>;
}

/** Transports of the matrix against one gateway. */
export interface MatrixClients {
  readonly connectH1: Transport;
  readonly connectH2: Transport;
  readonly grpcWeb: Transport;
  readonly grpcWebH2: Transport;
  readonly grpc: Transport;
  readonly wsUrl: string;
  close(): void;
}

/** Clients for the gateway at `url` (http://host:port). */
export function matrixClients(url: string): MatrixClients {
  const h2 = new Http2SessionManager(url);
  return {
    connectH1: createConnectTransport({ baseUrl: url, httpVersion: "1.1" }),
    connectH2: createConnectTransport({ baseUrl: url, httpVersion: "2", sessionManager: h2 }),
    grpcWeb: createGrpcWebTransport({ baseUrl: url, httpVersion: "1.1" }),
    grpcWebH2: createGrpcWebTransport({ baseUrl: url, httpVersion: "2", sessionManager: h2 }),
    grpc: createGrpcTransport({ baseUrl: url, sessionManager: h2 }),
    wsUrl: url.replace(/^http/, "ws"),
    close: () => h2.abort(),
  };
}

const reqBytes = (message: string, repeat = 0) => new Uint8Array(toBinary(EchoRequestSchema, create(EchoRequestSchema, { message, repeat })));

type Single = (message: string) => Promise<string>;

/** Single-request cells: each returns the echoed message (server streaming: its one message). */
function singleCells(c: MatrixClients): Record<string, Single> {
  const first = async (it: AsyncIterable<{ message: string }>) => {
    let m: string | undefined;
    for await (const r of it) m ??= r.message;
    if (m === undefined) throw new Error("no response message");
    return m;
  };
  const ws = async (method: string, message: string) => {
    const call = new WsCall(`${c.wsUrl}/demo.v1.EchoService/${method}`);
    await call.start({}, [reqBytes(message)], true);
    const r = await call.result();
    if ((r.code as number) !== 0) throw new ConnectError(r.message, r.code);
    if (!r.data[0]) throw new Error("no response message");
    return echoRes(r.data[0]).message;
  };
  return {
    "connect unary h1": async (m) => (await createClient(EchoService, c.connectH1).echo({ message: m })).message,
    "connect unary h2": async (m) => (await createClient(EchoService, c.connectH2).echo({ message: m })).message,
    "connect server-stream": (m) => first(createClient(EchoService, c.connectH1).echoStream({ message: m })),
    "grpc-web unary": async (m) => (await createClient(EchoService, c.grpcWeb).echo({ message: m })).message,
    "grpc-web server-stream": (m) => first(createClient(EchoService, c.grpcWeb).echoStream({ message: m })),
    "grpc unary": async (m) => (await createClient(EchoService, c.grpc).echo({ message: m })).message,
    "grpc server-stream": (m) => first(createClient(EchoService, c.grpc).echoStream({ message: m })),
    "grpc-websockets unary": (m) => ws("Echo", m),
    "grpc-websockets server-stream": (m) => ws("EchoStream", m),
  };
}

const isEof = (e: unknown) => e instanceof ConnectError && e.code === Code.Unknown && /EOF/.test(e.rawMessage);

/**
 * `total` single-request calls spread over every cell, `concurrency` at a time; every `emptyEvery`th
 * call sends the empty request message (0 bytes in protobuf).
 */
export async function runSingleCalls(c: MatrixClients, total: number, concurrency: number, emptyEvery = 10): Promise<SingleResults> {
  const cells = Object.entries(singleCells(c));
  const out: SingleResults = {};
  for (const [name] of cells) out[name] = { ok: 0, eof: 0, other: 0, samples: [] };
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= total) return;
      const [name, fn] = cells[i % cells.length]!;
      const r = out[name]!;
      const message = i % emptyEvery === 0 ? "" : `m${i}`;
      try {
        const got = await fn(message);
        if (got === message) r.ok++;
        else {
          r.other++;
          if (r.samples.length < 3) r.samples.push(`wrong echo ${JSON.stringify(got)} for ${JSON.stringify(message)}`);
        }
      } catch (e) {
        if (isEof(e)) r.eof++;
        else r.other++;
        if (r.samples.length < 3) r.samples.push(String(e));
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out;
}

type Burst = (msgs: string[]) => Promise<string[]>;

/** Burst cells: all messages sent back to back, then the half-close; each returns what came back, in order. */
function burstCells(c: MatrixClients): Record<string, Burst> {
  async function* all(msgs: string[]) {
    for (const m of msgs) yield { message: m };
  }
  const collect = async (it: AsyncIterable<{ message: string }>) => {
    const got: string[] = [];
    for await (const r of it) got.push(r.message);
    return got;
  };
  const ws = async (method: string, msgs: string[]) => {
    const call = new WsCall(`${c.wsUrl}/demo.v1.EchoService/${method}`);
    await call.start({}, msgs.map((m) => reqBytes(m)), true);
    const r = await call.result();
    if ((r.code as number) !== 0) throw new ConnectError(r.message, r.code);
    return r.data.map((d) => echoRes(d).message);
  };
  return {
    "connect client-stream": async (m) => (await createClient(EchoService, c.connectH2).echoClientStream(all(m))).message.split(" "),
    "connect bidi": (m) => collect(createClient(EchoService, c.connectH2).echoBidi(all(m))),
    "grpc-web client-stream": async (m) => (await createClient(EchoService, c.grpcWebH2).echoClientStream(all(m))).message.split(" "),
    "grpc client-stream": async (m) => (await createClient(EchoService, c.grpc).echoClientStream(all(m))).message.split(" "),
    "grpc bidi": (m) => collect(createClient(EchoService, c.grpc).echoBidi(all(m))),
    "grpc-websockets client-stream": async (m) => (await ws("EchoClientStream", m))[0]?.split(" ") ?? [],
    "grpc-websockets bidi": (m) => ws("EchoBidi", m),
  };
}

/**
 * `runs` bursts of `size` messages per cell, one burst at a time (`parallel`: the cells side by side,
 * each cell's bursts one after another). With a `judge`, only the bursts it says count are counted.
 */
export async function runBursts(c: MatrixClients, runs: number, size = 20, parallel = false, judge?: BurstJudge): Promise<BurstResults> {
  const out: BurstResults = {};
  const cells = Object.entries(burstCells(c));
  const each = <T>(f: (x: [string, Burst]) => Promise<T>) => (parallel ? Promise.all(cells.map(f)) : cells.reduce<Promise<unknown>>((p, x) => p.then(() => f(x)), Promise.resolve()));
  await each(async ([name, fn]) => {
    const r = (out[name] = { inOrder: 0, runs: 0, voided: 0, voidedInOrder: 0, samples: [] as string[], failed: [] as string[] });
    for (let i = 0; r.runs < runs && i < runs * 3; i++) {
      const msgs = Array.from({ length: size }, (_, k) => (k === 0 ? `${name}#${i}` : `b${k}`));
      const want = msgs.join(" ");
      await judge?.before();
      let failure: string | undefined;
      try {
        const got = (await fn(msgs)).join(" ");
        if (got !== want) failure = got;
      } catch (e) {
        failure = String(e);
      }
      if (judge && !(await judge.counts())) {
        r.voided++;
        if (failure === undefined) r.voidedInOrder++;
        continue;
      }
      r.runs++;
      if (failure === undefined) r.inOrder++;
      else {
        r.failed.push(msgs[0]!);
        if (r.samples.length < 2) r.samples.push(failure);
      }
    }
  });
  return out;
}

/** One line per cell, for the test log and the report. */
export function formatMatrix(single: SingleResults, bursts: BurstResults): string {
  const lines: string[] = [];
  for (const [k, v] of Object.entries(single)) lines.push(`  ${k.padEnd(32)} ok ${v.ok}  EOF ${v.eof}  other ${v.other}${v.samples.length ? "  e.g. " + v.samples[0] : ""}`);
  for (const [k, v] of Object.entries(bursts)) lines.push(`  ${k.padEnd(32)} bursts in order ${v.inOrder}/${v.runs}${v.voided ? ` (${v.voided} voided)` : ""}${v.samples.length ? "  e.g. " + v.samples[0]!.slice(0, 80) : ""}`);
  return lines.join("\n");
}
