/**
 * The seam between runtimes and wire protocols: one HTTP request type and one response sink, in the
 * manner of connect-es's `protocol/universal.ts`. Runtime-neutral (types only).
 *
 * Exactly two converters produce them: fetch `Request`/`Response` (Hono, Deno, Workers;
 * `src/protocol/universal-fetch.ts`) and Node's `http`/`http2` request and response (the Node entry).
 * Every protocol (Connect unary and streaming, gRPC-Web, native gRPC) is one
 * {@link UniversalHandler} that both converters drive, so a protocol rule is written once.
 *
 * Request headers are anything with `get` and `forEach` (a fetch `Headers`, or the Node converter's
 * {@link HeaderList}, read from `rawHeaders` without undici's checks: the Node gate stays fast);
 * response headers are always a {@link HeaderList}, which the fetch converter turns into a `Headers`
 * and the Node converter writes as it stands.
 */
import type { ClientWatch } from "./client-signal.js";
import type { HeaderList, RequestHeaders } from "./header-list.js";

/**
 * A request body: its bytes as they arrive. A protocol that stops reading before the end calls the
 * iterator's `return()` (a `ReadableStream`: the protocol cancels or drains its reader); the converter
 * then reads and drops the rest within a bound, so that an HTTP/1.1 connection can carry the next
 * request. A read that fails (the client went away) throws; protocols report it as CANCELLED.
 */
export interface UniversalBody extends AsyncIterable<Uint8Array> {
  /**
   * Optional, for whole-body protocols (Connect unary): the whole body at once, read the way the
   * runtime reads fastest (Node: 'data' events, no async iterator). Rejects with RESOURCE_EXHAUSTED as
   * soon as it passes `maxBytes` (the rest is dropped as above), with CANCELLED when the client goes
   * away first. Without it, the protocol iterates.
   */
  readAll?(maxBytes: number): Promise<Uint8Array>;
}

/** One HTTP request as every protocol sees it, whatever the runtime. */
export interface UniversalRequest {
  /** The HTTP method, upper case (`POST`, `GET`, ...). */
  readonly method: string;
  /** The request target's path, without query: `/pkg.Service/Method` for an RPC (not yet validated). */
  readonly path: string;
  /** The query, with its `?` (`?connect=v1&message=…`), or `""` for none. Connect GET reads it. */
  readonly search: string;
  /**
   * `"2.0"` for HTTP/2, `"1.1"` / `"1.0"` for HTTP/1, `undefined` where the runtime does not say (a
   * fetch `Request`). Native gRPC needs `"2.0"` (HTTP/2 trailers).
   */
  readonly httpVersion: string | undefined;
  /** Request headers, lower-case names, duplicates combined as `Headers` combines them. */
  readonly headers: RequestHeaders;
  /**
   * The authority the request was sent to: `Host`, or HTTP/2's `:authority`, or the URL's host; null
   * when none is known. The same-origin check compares a page's `Origin` with it.
   */
  readonly authority: string | null;
  /** The body; null when the request has none (GET). A `ReadableStream` from a fetch `Request`. */
  readonly body: UniversalBody | ReadableStream<Uint8Array> | null;
  /**
   * The runtime's sign that the client went away (connection closed, stream reset, the response body
   * cancelled): a fetch `AbortSignal`, or a {@link ClientWatch}, which needs no AbortController per
   * request (Node). Protocols link it to the call's signal once the request is read. It fires
   * before the body ends when the client resets its stream, so a reset never reads as a half-close.
   */
  readonly signal: AbortSignal | ClientWatch | undefined;
  /** The peer's address, as the runtime knows it (per-IP limits, logs). */
  readonly remoteAddress: string | undefined;
  /**
   * Settles when the transport is done with the request (Node: its response closed; over HTTP/2, its
   * stream): the call limits count a call until then (see `Call.closed`). Absent: when the call ends.
   */
  readonly closed?: Promise<void>;
}

/**
 * Where a protocol writes its response. Either one {@link UniversalResponseSink.respond} (a whole
 * response), or {@link UniversalResponseSink.head}, any number of
 * {@link UniversalResponseSink.write}, and one {@link UniversalResponseSink.end}. Calls after the end
 * are ignored, and so are writes once the client went away (the request's `signal` says so). No
 * method throws: a transport that fails is the client going away.
 */
export interface UniversalResponseSink {
  /**
   * Whether {@link end} can send HTTP trailers (Node over HTTP/2). Where it cannot (fetch `Response`,
   * HTTP/1.1), protocols put their status in the body (gRPC-Web, Connect streaming) or headers.
   */
  readonly trailers: boolean;
  /** Sends the status line and headers; the body follows. At most once, before any write. */
  head(status: number, headers: HeaderList): void;
  /**
   * Queues body bytes (after {@link head}). Returns a promise while the transport holds more than its
   * high-water mark for the client (backpressure): the writer awaits it before writing more. It
   * resolves when the client has taken enough, or has gone away.
   */
  write(chunk: Uint8Array): void | Promise<void>;
  /** Ends the body; `trailers` go out as HTTP trailers where {@link trailers} is true (else ignored). */
  end(trailers?: HeaderList): void;
  /**
   * A whole response at once, in place of head/write/end: status, headers and body (`undefined`: no
   * body). Unary responses, and errors before the head: a gRPC trailers-only response is
   * `respond(200, headersWithStatus)`, on HTTP/2 one HEADERS frame with END_STREAM.
   */
  respond(status: number, headers: HeaderList, body?: Uint8Array): void;
}

/** A protocol on the seam: serves one request into its sink. Never throws; every outcome goes to `res`. */
export type UniversalHandler = (req: UniversalRequest, res: UniversalResponseSink) => void;
