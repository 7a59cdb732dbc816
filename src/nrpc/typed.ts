/**
 * Typed layer over the raw nats-grpc client and server, from protoc-gen-es service descriptors:
 * `registerService(server, EchoService, impl)` and `createServiceClient(client, nid, EchoService)`.
 */
import { create, fromBinary, toBinary, type DescMessage, type DescMethod, type DescService, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Metadata } from "../core/metadata.js";
import type { CallOptions, NrpcClient } from "./client.js";
import type { NrpcServer, ServerCall } from "./server.js";

/** What a typed handler gets besides its request(s). */
export type HandlerContext = Omit<ServerCall, "requests" | "send">;

type Impl<M extends DescMethod> = M extends { methodKind: "unary"; input: infer I extends DescMessage; output: infer O extends DescMessage }
  ? (req: MessageShape<I>, ctx: HandlerContext) => Promise<MessageInitShape<O>> | MessageInitShape<O>
  : M extends { methodKind: "server_streaming"; input: infer I extends DescMessage; output: infer O extends DescMessage }
    ? (req: MessageShape<I>, ctx: HandlerContext) => AsyncIterable<MessageInitShape<O>>
    : M extends { methodKind: "client_streaming"; input: infer I extends DescMessage; output: infer O extends DescMessage }
      ? (reqs: AsyncIterable<MessageShape<I>>, ctx: HandlerContext) => Promise<MessageInitShape<O>>
      : M extends { methodKind: "bidi_streaming"; input: infer I extends DescMessage; output: infer O extends DescMessage }
        ? (reqs: AsyncIterable<MessageShape<I>>, ctx: HandlerContext) => AsyncIterable<MessageInitShape<O>>
        : never;

/** An implementation of a service: one function per method, by local name. */
export type ServiceImpl<S extends DescService> = { [K in keyof S["method"]]: Impl<S["method"][K]> };

function decode<I extends DescMessage>(schema: I, bytes: Uint8Array): MessageShape<I> {
  try {
    return fromBinary(schema, bytes);
  } catch {
    throw new ConnectError(`malformed ${schema.typeName}`, Code.InvalidArgument);
  }
}

async function* decodeAll<I extends DescMessage>(schema: I, src: AsyncIterable<Uint8Array>): AsyncIterable<MessageShape<I>> {
  for await (const b of src) yield decode(schema, b);
}

async function firstMessage(src: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  for await (const b of src) return b;
  throw new ConnectError("request message missing", Code.InvalidArgument);
}

/** Messages a streaming handler may send before it lets the event loop run (and a cancel arrive). */
const sendBurst = 64;

/**
 * Sends a handler's response stream. nats-grpc has no flow control and a publish never blocks, so a
 * generator that produces without awaiting I/O would publish everything before the caller's
 * `End{status}` could even be read: every `sendBurst` messages we yield to the event loop, and stop
 * once the call is cancelled.
 */
async function sendAll(call: ServerCall, responses: AsyncIterable<unknown>, enc: (m: unknown) => Uint8Array): Promise<void> {
  let n = 0;
  for await (const r of responses) {
    if (call.signal.aborted) return;
    call.send(enc(r));
    if (++n % sendBurst === 0) await new Promise<void>((resolve) => setTimeout(resolve, 0));
  }
}

/** Registers a typed service implementation on a nats-grpc server. */
export function registerService<S extends DescService>(server: NrpcServer, service: S, impl: ServiceImpl<S>): void {
  const methods: Record<string, (call: ServerCall) => Promise<void>> = {};
  for (const m of service.methods) {
    const fn = (impl as Record<string, (...a: unknown[]) => unknown>)[m.localName];
    if (!fn) continue;
    const enc = (msg: unknown) => toBinary(m.output, create(m.output, msg as MessageInitShape<DescMessage>));
    methods[m.name] = async (call) => {
      switch (m.methodKind) {
        case "unary": {
          const res = await fn(decode(m.input, await firstMessage(call.requests)), call);
          call.send(enc(res));
          return;
        }
        case "server_streaming":
          await sendAll(call, fn(decode(m.input, await firstMessage(call.requests)), call) as AsyncIterable<unknown>, enc);
          return;
        case "client_streaming":
          call.send(enc(await fn(decodeAll(m.input, call.requests), call)));
          return;
        case "bidi_streaming":
          await sendAll(call, fn(decodeAll(m.input, call.requests), call) as AsyncIterable<unknown>, enc);
          return;
      }
    };
  }
  server.register(service.typeName, methods);
}

/** The outcome metadata of a typed call. */
export interface CallResult {
  header: Metadata;
  trailer: Metadata;
  /** nid from the Begin envelope, if the server sent one. */
  nid?: string;
}

type ClientMethod<M extends DescMethod> = M extends { methodKind: "unary"; input: infer I extends DescMessage; output: infer O extends DescMessage }
  ? (req: MessageInitShape<I>, opts?: CallOptions & { result?: Partial<CallResult> }) => Promise<MessageShape<O>>
  : M extends { methodKind: "server_streaming"; input: infer I extends DescMessage; output: infer O extends DescMessage }
    ? (req: MessageInitShape<I>, opts?: CallOptions & { result?: Partial<CallResult> }) => AsyncIterable<MessageShape<O>>
    : M extends { methodKind: "client_streaming"; input: infer I extends DescMessage; output: infer O extends DescMessage }
      ? (reqs: AsyncIterable<MessageInitShape<I>>, opts?: CallOptions & { result?: Partial<CallResult> }) => Promise<MessageShape<O>>
      : M extends { methodKind: "bidi_streaming"; input: infer I extends DescMessage; output: infer O extends DescMessage }
        ? (reqs: AsyncIterable<MessageInitShape<I>>, opts?: CallOptions & { result?: Partial<CallResult> }) => AsyncIterable<MessageShape<O>>
        : never;

/** A typed client of one service on one node. */
export type ServiceClient<S extends DescService> = { [K in keyof S["method"]]: ClientMethod<S["method"][K]> };

/**
 * Raw streaming call as an async iterable of response bytes; requests come from `reqs`. The call
 * is cancelled (End{CANCELLED} to the server) if the consumer stops iterating early.
 */
export async function* rawCall(
  client: NrpcClient,
  nid: string,
  service: string,
  method: string,
  reqs: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  opts: CallOptions & { result?: Partial<CallResult> } = {},
): AsyncIterable<Uint8Array> {
  const queue: Uint8Array[] = [];
  let done: { error: ConnectError | undefined } | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const stream = client.open(nid, service, method, opts, {
    onHeader(md, hnid) {
      if (opts.result) {
        opts.result.header = md;
        opts.result.nid = hnid;
      }
    },
    onMessage(d) {
      queue.push(d);
      notify();
    },
    onEnd(error, trailers) {
      if (opts.result) opts.result.trailer = trailers;
      done = { error };
      notify();
    },
  });
  const pump = (async () => {
    try {
      for await (const r of reqs as AsyncIterable<Uint8Array>) {
        if (stream.ended) return;
        stream.send(r);
      }
      stream.closeSend();
    } catch (e) {
      stream.cancel(Code.Canceled, e instanceof Error ? e.message : "request stream failed");
    }
  })();
  try {
    for (;;) {
      if (queue.length) {
        yield queue.shift()!;
        continue;
      }
      if (done) {
        if (done.error) throw done.error;
        return;
      }
      await new Promise<void>((r) => (wake = r));
    }
  } finally {
    if (!stream.ended) stream.cancel(Code.Canceled, "client stopped reading");
    await pump;
  }
}

/** Creates a typed client for `service` on node `nid`. */
export function createServiceClient<S extends DescService>(client: NrpcClient, nid: string, service: S): ServiceClient<S> {
  const out: Record<string, unknown> = {};
  for (const m of service.methods) {
    const enc = (msg: unknown) => toBinary(m.input, create(m.input, msg as MessageInitShape<DescMessage>));
    const call = (reqs: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, opts?: CallOptions & { result?: Partial<CallResult> }) =>
      rawCall(client, nid, service.typeName, m.name, reqs, opts);
    async function* encodeAll(src: AsyncIterable<unknown>) {
      for await (const r of src) yield enc(r);
    }
    async function* decodeStream(src: AsyncIterable<Uint8Array>) {
      for await (const b of src) yield fromBinary(m.output, b);
    }
    async function single(src: AsyncIterable<Uint8Array>) {
      let res: unknown;
      for await (const b of src) res ??= fromBinary(m.output, b);
      if (res === undefined) throw new ConnectError("missing response message", Code.Internal);
      return res;
    }
    switch (m.methodKind) {
      case "unary":
        out[m.localName] = (req: unknown, opts?: CallOptions) => single(call([enc(req)], opts));
        break;
      case "server_streaming":
        out[m.localName] = (req: unknown, opts?: CallOptions) => decodeStream(call([enc(req)], opts));
        break;
      case "client_streaming":
        out[m.localName] = (reqs: AsyncIterable<unknown>, opts?: CallOptions) => single(call(encodeAll(reqs), opts));
        break;
      case "bidi_streaming":
        out[m.localName] = (reqs: AsyncIterable<unknown>, opts?: CallOptions) => decodeStream(call(encodeAll(reqs), opts));
        break;
    }
  }
  return out as ServiceClient<S>;
}
