/**
 * The seam between the wire-protocol adapters and the Director: one protocol-neutral call.
 *
 * An adapter (Connect, gRPC-Web, grpc-websockets, native gRPC) turns what arrived on the wire into a
 * {@link Call} and a {@link CallResponder}, then awaits `handler(call, responder)`. The Director never
 * knows which protocol a call came in on; the nrpc client never knows there was a browser.
 */
import type { ConnectError } from "@connectrpc/connect";
import type { CallSignal } from "./call-signal.js";
import type { Metadata } from "./metadata.js";

/** The wire protocol a call arrived on (used for metrics and logs only). */
export type WireProtocol = "connect" | "grpc-web" | "grpc-web-text" | "grpc-websockets" | "grpc";

/** What the wire can tell about a call's shape. Connect unary and GET know "unary"; others stream. */
export type CallShape = "unary" | "server_streaming" | "client_streaming" | "bidi_streaming" | "unknown";

/** One incoming call, protocol-neutral. */
export interface Call {
  /** The full method path as it came in, `/pkg.Service/Method` (not yet validated). */
  readonly path: string;
  readonly protocol: WireProtocol;
  readonly shape: CallShape;
  /** Request metadata (headers or the grpc-websockets header frame), lower-case keys. */
  readonly metadata: Metadata;
  /**
   * Aborted when the client goes away or cancels. Deadline expiry is separate (`timeoutMs`) so that
   * the Director can tell CANCELLED from DEADLINE_EXCEEDED.
   */
  readonly signal: CallSignal;
  /** The client's timeout in ms (`grpc-timeout`, `Connect-Timeout-Ms`), if it sent one. */
  readonly timeoutMs: number | undefined;
  /** Request messages as raw bytes (no envelope). Ends when the client half-closes. */
  readonly requests: AsyncIterable<Uint8Array>;
  /** Remote peer, as far as the runtime knows. */
  readonly remote: { readonly address?: string; readonly origin?: string };
  /**
   * A token from the URL's `token` query parameter, for WebSocket clients that cannot send metadata.
   * Set by the app; the authenticator uses it only when configured to.
   */
  readonly queryToken?: string;
  /**
   * Settles when the transport is done with the call (Node HTTP/2: its stream closed). A call ended
   * at its buffer limit may hold response bytes for a client that does not read until then, so the
   * call limits count it until this settles. Absent: the call is done when the handler returns.
   */
  readonly closed?: Promise<void>;
}

/**
 * Where the Director writes the response. Order: at most one `header`, then any number of
 * `message`, then exactly one `end`. An adapter must tolerate `end` without `header`.
 */
export interface CallResponder {
  /** Response headers. */
  header(md: Metadata): void;
  /**
   * One response message (raw bytes). Returns a promise when the adapter's buffer is full: the
   * caller must await it before sending more (backpressure), or give up when the call's signal aborts.
   * The adapters always queue the message, in order, even when they return a promise; the promise
   * resolves when the queue is back under its high-water mark, or when the client goes away.
   */
  message(data: Uint8Array): void | Promise<void>;
  /** Final status (undefined = OK) and trailers. */
  end(error: ConnectError | undefined, trailers: Metadata): void;
}

/**
 * What every adapter calls: the Director's entry point. Never throws; errors go to `end`. The promise
 * settles when the call is over: an adapter ends a call that is still open by then with INTERNAL.
 * When the request stream fails (oversized or malformed message) the adapter ends the call itself,
 * aborts `signal` with that error, and the iterator throws it; a later `end` is ignored.
 */
export type CallHandler = (call: Call, responder: CallResponder) => Promise<void>;
