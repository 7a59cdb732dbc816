/**
 * The fetch converter of the seam (src/protocol/universal.ts): a fetch `Request` becomes a
 * {@link UniversalRequest}, and a {@link UniversalResponseSink} becomes a `Response` with a streamed,
 * backpressured body. Used by the Hono app (Node through @hono/node-server, Deno, Workers) and by
 * the fetch-style protocol entry points (`handleConnect`, `handleGrpcWeb`). Runtime-neutral.
 */
import type { ClientWatch } from "./client-signal.js";
import { drainBody } from "./discard-body.js";
import type { HeaderList } from "./header-list.js";
import type { RequestInfo } from "./options.js";
import { requestPath } from "./request-path.js";
import { createResponseStream, type ResponseStreamWriter } from "./response-stream.js";
import type { UniversalBody, UniversalRequest, UniversalResponseSink } from "./universal.js";

/** The response sink of the fetch converter; `response` settles at its `head` or `respond`. */
export interface FetchResponseSink extends UniversalResponseSink {
  /** The `Response` to hand to the runtime. */
  readonly response: Promise<Response>;
}

/**
 * Converts `req` (see the module comment). `info` adds what a `Request` does not carry: the method path
 * when the app mounts handlers under a prefix (default the URL's path), the peer address, and when the
 * transport is done with the request. The request's `signal` fires when the `Request`'s signal aborts
 * or when the runtime cancels the `Response` body (the client went away mid-response).
 * With `info.drainBodyBeforeEnd`, the response is completed only once the request body has been read
 * to its end (see {@link RequestInfo.drainBodyBeforeEnd}).
 * `highWaterMarkBytes`: response bytes queued for a slow client before `write` returns a promise.
 */
export function fromFetchRequest(
  req: Request,
  info: RequestInfo | undefined,
  highWaterMarkBytes: number,
): { request: UniversalRequest; sink: FetchResponseSink } {
  const gone = new GoneSignal(req.signal);
  const body = info?.drainBodyBeforeEnd && req.body !== null ? new FetchBody(req.body) : req.body;
  const url = req.url;
  const path = info?.path ?? requestPath(url);
  const request: UniversalRequest = {
    method: req.method,
    path,
    get search() {
      const q = url.indexOf("?");
      if (q < 0) return "";
      const h = url.indexOf("#", q);
      return h < 0 ? url.slice(q) : url.slice(q, h);
    },
    httpVersion: undefined,
    headers: req.headers,
    get authority() {
      const host = req.headers.get("host");
      if (host !== null) return host;
      try {
        return new URL(url).host;
      } catch {
        return null;
      }
    },
    body,
    signal: gone.watch,
    // Read only for RPCs, once each: the runtime's look-ups may cost (a listener per request).
    get remoteAddress() {
      const v = info?.remoteAddress;
      Object.defineProperty(this, "remoteAddress", { value: v });
      return v;
    },
    get closed() {
      const v = info?.closed;
      Object.defineProperty(this, "closed", { value: v });
      return v;
    },
  };
  return { request, sink: new FetchSink(highWaterMarkBytes, () => gone.fire(), body instanceof FetchBody ? body : undefined) };
}

const doneResult: IteratorReturnResult<undefined> = { done: true, value: undefined };

/**
 * A fetch body that the converter reads for the protocol, so that it knows when the body has been read
 * to its end: a protocol that stops early (`return()`), or never starts, leaves the rest to
 * {@link FetchBody.settle}, which the sink awaits before it completes the response.
 */
class FetchBody implements UniversalBody, AsyncIterator<Uint8Array> {
  private reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  private eof = false;
  private drained: Promise<void> | undefined;

  constructor(private readonly stream: ReadableStream<Uint8Array>) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<Uint8Array>> {
    const r = await (this.reader ??= this.stream.getReader()).read();
    if (r.done) this.eof = true;
    return r;
  }

  return(): Promise<IteratorResult<Uint8Array>> {
    void this.settle();
    return Promise.resolve(doneResult);
  }

  /** Settles once the body has been read to its end: what the protocol left is read and dropped (bounded). Never rejects. */
  settle(): Promise<void> {
    if (this.eof) return Promise.resolve();
    return (this.drained ??= drainBody((this.reader ??= this.stream.getReader())));
  }
}

/**
 * The client's "gone" for the fetch converter: the `Request`'s signal, or the `Response` body
 * cancelled by the runtime, whichever comes first.
 */
class GoneSignal {
  private fired = false;
  private readonly listeners = new Set<() => void>();
  private abortHooked = false;

  constructor(private readonly signal: AbortSignal) {}

  readonly watch: ClientWatch = (onGone) => {
    if (this.fired || this.signal.aborted) {
      onGone();
      return noop;
    }
    if (!this.abortHooked) {
      this.abortHooked = true;
      this.signal.addEventListener("abort", () => this.fire(), { once: true });
    }
    this.listeners.add(onGone);
    return () => this.listeners.delete(onGone);
  };

  fire(): void {
    if (this.fired) return;
    this.fired = true;
    const ls = [...this.listeners];
    this.listeners.clear();
    for (const l of ls) l();
  }
}

/** A sink whose `Response` is handed out at `head` (streamed body) or `respond` (whole body). */
class FetchSink implements FetchResponseSink {
  readonly trailers = false;
  private resolve!: (r: Response) => void;
  readonly response = new Promise<Response>((r) => (this.resolve = r));
  private writer: ResponseStreamWriter | undefined;
  private done = false;

  constructor(
    private readonly highWaterMarkBytes: number,
    private readonly onCancel: () => void,
    /** Set: the response completes only once this body has been read to its end. */
    private readonly body: FetchBody | undefined,
  ) {}

  head(status: number, headers: HeaderList): void {
    if (this.done || this.writer !== undefined) return;
    this.writer = createResponseStream(this.highWaterMarkBytes, this.onCancel);
    this.resolve(new Response(this.writer.stream, { status, headers: headers.toHeaders() }));
  }

  write(chunk: Uint8Array): void | Promise<void> {
    if (this.done) return;
    return this.writer?.write(chunk);
  }

  end(): void {
    if (this.done) return;
    this.done = true;
    const writer = this.writer;
    if (this.body === undefined) writer?.close();
    else void this.body.settle().then(() => writer?.close());
  }

  respond(status: number, headers: HeaderList, body?: Uint8Array): void {
    if (this.done || this.writer !== undefined) return;
    this.done = true;
    const response = () => new Response((body ?? null) as Uint8Array<ArrayBuffer> | null, { status, headers: headers.toHeaders() });
    if (this.body === undefined) this.resolve(response());
    else void this.body.settle().then(() => this.resolve(response()));
  }
}

function noop(): void {}
