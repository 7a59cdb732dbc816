/**
 * Options shared by every wire-protocol adapter, and their defaults in one place.
 */
import type { CallHandler } from "../core/call.js";
import type { MethodSpecLookup } from "./method-spec.js";

/** Converts one method's messages between the JSON and the binary protobuf encoding. */
export interface JsonCodec {
  /** A JSON request (UTF-8 bytes) to binary protobuf. Throws a ConnectError (INVALID_ARGUMENT) on bad input. */
  requestToBinary(json: Uint8Array): Uint8Array;
  /** A binary response to JSON (UTF-8 bytes). Throws a ConnectError (INTERNAL) on bad input. */
  responseToJson(bin: Uint8Array): Uint8Array;
}

/**
 * Finds the JSON codec of a method path (`/pkg.Service/Method`), or undefined when the gateway has no
 * schema for it: then JSON content types are refused and binary protobuf passes through untouched.
 */
export type JsonCodecLookup = (path: string) => JsonCodec | undefined;

/** Limits and policies of the protocol adapters. */
export interface ProtocolOptions {
  /** Largest request message (after decompression), in bytes. Default 4 MiB. */
  maxMessageBytes?: number;
  /** Largest request metadata (sum of key and value lengths), in bytes. Default 16 KiB. */
  maxMetadataBytes?: number;
  /** Timeout given to calls whose client sent none. Default: none. */
  defaultTimeoutMs?: number;
  /** Client timeouts above this are clamped to it (not refused); a call without one gets it too. Default: no limit. */
  maxTimeoutMs?: number;
  /** JSON support (Connect JSON, gRPC-Web `+json`, gRPC `+json`); without it only binary protobuf is served. */
  json?: JsonCodecLookup;
  /**
   * The methods the gateway has schemas for: where it knows one, the adapters apply the strict rules
   * (request cardinality, GET only for `NO_SIDE_EFFECTS`, unary vs streaming content types, 404 for an
   * unknown method of a known service). Without it, or for services it does not know, the node decides.
   */
  methods?: MethodSpecLookup;
  /** Smallest response message that is compressed when the client accepts gzip. Default 1 KiB. */
  compressMinBytes?: number;
  /**
   * Response bytes a streaming adapter queues for a slow client before `responder.message()` returns a
   * promise. Default 1 MiB. Each queued chunk also counts `highWaterMarkBytes / 64`, so 64 small
   * messages reach the mark as well.
   */
  highWaterMarkBytes?: number;
}

/** {@link ProtocolOptions} with every default applied. */
export interface ResolvedProtocolOptions {
  readonly maxMessageBytes: number;
  readonly maxMetadataBytes: number;
  readonly defaultTimeoutMs: number | undefined;
  readonly maxTimeoutMs: number | undefined;
  readonly json: JsonCodecLookup | undefined;
  readonly methods: MethodSpecLookup | undefined;
  readonly compressMinBytes: number;
  readonly highWaterMarkBytes: number;
}

/** Per-request facts the runtime knows and a fetch `Request` does not carry. */
export interface RequestInfo {
  /** The method path, when the app mounts the handler under a prefix. Default: the URL's pathname. */
  readonly path?: string;
  /** The peer address (Hono: `getConnInfo(c).remote.address`). */
  readonly remoteAddress?: string;
  /** Settles when the runtime's transport is done with the request (Node: its response closed); see `Call.closed`. */
  readonly closed?: Promise<void>;
  /**
   * The runtime cannot read a request body once the response is complete (workerd: "Can't read from
   * request stream after response has been sent"), so the fetch converter completes a response only
   * after the request body has been read to its end (the rest of a body the call did not read is
   * dropped, up to `maxDiscardBytes`, then cancelled). Otherwise the unread rest stays on an HTTP/1.1
   * connection and breaks the next request on it. Only for runtimes whose request bodies end without
   * waiting for the response (Worker code gets no full-duplex HTTP): elsewhere a client that waits for
   * the response before ending its body would wait forever.
   */
  readonly drainBodyBeforeEnd?: boolean;
}

/** What a protocol on the seam (src/protocol/universal.ts) serves a request with. */
export interface ServeContext {
  /** The call handler (the Director behind the call limits). */
  readonly handler: CallHandler;
  readonly options: ResolvedProtocolOptions;
  /** Connect: require `Connect-Protocol-Version: 1` (`connect=v1` on GET), else INVALID_ARGUMENT. */
  readonly requireConnectVersion?: boolean;
}

/** Default largest message: 4 MiB, as in gRPC. */
export const defaultMaxMessageBytes = 4 * 1024 * 1024;
/** Default largest metadata: 16 KiB, as in gRPC's default header list size. */
export const defaultMaxMetadataBytes = 16 * 1024;
/** Default response queue high-water mark: 1 MiB. */
export const defaultHighWaterMarkBytes = 1024 * 1024;

const resolvedCache = new WeakMap<ProtocolOptions, ResolvedProtocolOptions>();

/** Applies the defaults (cached per options object, so per-request calls are free). */
export function resolveProtocolOptions(opts: ProtocolOptions | undefined): ResolvedProtocolOptions {
  if (opts === undefined) return defaults;
  let r = resolvedCache.get(opts);
  if (r === undefined) {
    r = {
      maxMessageBytes: positive(opts.maxMessageBytes, defaultMaxMessageBytes),
      maxMetadataBytes: positive(opts.maxMetadataBytes, defaultMaxMetadataBytes),
      defaultTimeoutMs: opts.defaultTimeoutMs,
      maxTimeoutMs: opts.maxTimeoutMs,
      json: opts.json,
      methods: opts.methods,
      compressMinBytes: opts.compressMinBytes ?? 1024,
      highWaterMarkBytes: positive(opts.highWaterMarkBytes, defaultHighWaterMarkBytes),
    };
    resolvedCache.set(opts, r);
  }
  return r;
}

const defaults: ResolvedProtocolOptions = {
  maxMessageBytes: defaultMaxMessageBytes,
  maxMetadataBytes: defaultMaxMetadataBytes,
  defaultTimeoutMs: undefined,
  maxTimeoutMs: undefined,
  json: undefined,
  methods: undefined,
  compressMinBytes: 1024,
  highWaterMarkBytes: defaultHighWaterMarkBytes,
};

/** The {@link ServeContext} of `handler` with `opts` resolved (the gateway builds its own once, `gateway.serving`). */
export function serveContext(handler: CallHandler, opts?: ProtocolOptions): ServeContext {
  return { handler, options: resolveProtocolOptions(opts) };
}

function positive(v: number | undefined, d: number): number {
  return v !== undefined && v > 0 ? v : d;
}
