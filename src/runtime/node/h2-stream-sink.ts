/**
 * The seam's response sink on a raw HTTP/2 stream (`ServerHttp2Stream`), Node only: the transport of
 * native gRPC, and of Connect and gRPC-Web over h2c through the Node gate (./gate.ts).
 *
 * Native gRPC (the default): headers go out in one HEADERS frame, trailers as real HTTP/2 trailers; a
 * whole response without a body (a gRPC trailers-only answer) is one HEADERS frame with END_STREAM;
 * what the client still sends after the response is read and dropped. `write` returns a promise while
 * the stream holds more than its own high-water mark (Node's `write()` returned false).
 *
 * Connect and gRPC-Web (`{ trailers: false }`): written as @hono/node-server writes the app's answer
 * over HTTP/2, which this replaces on Node: no HTTP trailers (the response ends with its last DATA
 * frame; these protocols carry their status in the body or the headers), `text/plain; charset=UTF-8`
 * when no content type was set, a `content-length` on a whole response, and a request body still
 * coming once the response is done closed with RST_STREAM(NO_ERROR) (RFC 9113 §8.1) rather than read.
 * `write` returns a promise while the stream holds more than `highWaterMark` bytes, as the HTTP/1.1
 * sink does (./response-sink.ts).
 *
 * Each header value is its own field, in the order the protocol appended them.
 */
import http2, { type OutgoingHttpHeaders, type ServerHttp2Stream } from "node:http2";
import type { HeaderList } from "../../protocol/header-list.js";
import type { UniversalResponseSink } from "../../protocol/universal.js";
import { whenDrained } from "./when-drained.js";

/** How an {@link H2StreamSink} writes (see the module comment). */
export interface H2StreamSinkOptions {
  /** HTTP trailers (native gRPC). Default true; false: Connect and gRPC-Web as the app answers them. */
  readonly trailers?: boolean;
  /** With `trailers: false`: response bytes the stream may hold for the client before `write` returns a promise. Default 1 MiB. */
  readonly highWaterMark?: number;
  /** Adds headers to every response's head (the gate: CORS for an allowed origin). */
  readonly decorate?: (h: HeaderList) => void;
}

/** Writes one response on `stream` (see the module comment). */
export class H2StreamSink implements UniversalResponseSink {
  readonly trailers: boolean;
  private readonly highWaterMark: number | undefined;
  private readonly decorate: ((h: HeaderList) => void) | undefined;
  private ended = false;
  private pendingTrailers: OutgoingHttpHeaders | undefined;
  private drainWait: Promise<void> | undefined;

  constructor(
    private readonly stream: ServerHttp2Stream,
    opts?: H2StreamSinkOptions,
  ) {
    this.trailers = opts?.trailers ?? true;
    this.highWaterMark = this.trailers ? undefined : (opts?.highWaterMark ?? 1024 * 1024);
    this.decorate = opts?.decorate;
    // The compat response's listener (it would send empty trailers): the trailers are this sink's.
    stream.removeAllListeners("wantTrailers");
  }

  head(status: number, headers: HeaderList): void {
    const stream = this.stream;
    if (this.ended || stream.headersSent || gone(stream)) return;
    this.decorate?.(headers);
    if (!this.trailers) {
      stream.respond(this.outgoing(status, headers));
      return;
    }
    stream.respond(this.outgoing(status, headers), { waitForTrailers: true });
    stream.once("wantTrailers", () => {
      if (!gone(stream)) stream.sendTrailers(this.pendingTrailers ?? {});
    });
  }

  write(chunk: Uint8Array): void | Promise<void> {
    const stream = this.stream;
    if (this.ended || gone(stream) || !stream.headersSent) return;
    const below = stream.write(chunk);
    if (this.highWaterMark === undefined ? below : stream.writableLength <= this.highWaterMark) return;
    return (this.drainWait ??= whenDrained(stream).then(() => {
      this.drainWait = undefined;
    }));
  }

  end(trailers?: HeaderList): void {
    if (this.ended) return;
    this.ended = true;
    const stream = this.stream;
    if (!gone(stream) && stream.headersSent) {
      if (trailers !== undefined && this.trailers) this.pendingTrailers = this.outgoing(undefined, trailers);
      stream.end();
    }
    this.dropRequest();
  }

  respond(status: number, headers: HeaderList, body?: Uint8Array): void {
    if (this.ended) return;
    this.ended = true;
    const stream = this.stream;
    if (!gone(stream) && !stream.headersSent) {
      this.decorate?.(headers);
      const out = this.outgoing(status, headers);
      if (body === undefined || body.byteLength === 0) {
        if (!this.trailers && body !== undefined) out["content-length"] ??= 0;
        stream.respond(out, { endStream: true });
      } else {
        if (!this.trailers) out["content-length"] ??= body.byteLength;
        stream.respond(out);
        stream.end(body);
      }
    }
    this.dropRequest();
  }

  /**
   * What the client still sends: native gRPC reads and drops it, so the stream can close; otherwise,
   * as @hono/node-server does, once the response is out and two timer turns gave a body about to end
   * its chance, the stream is closed with RST_STREAM(NO_ERROR).
   */
  private dropRequest(): void {
    const stream = this.stream;
    if (gone(stream) || stream.readableEnded) return;
    if (this.trailers) {
      stream.resume();
      return;
    }
    const close = () =>
      setTimeout(() =>
        setTimeout(() => {
          if (!gone(stream) && !stream.readableEnded) stream.close(http2.constants.NGHTTP2_NO_ERROR);
        }),
      );
    if (stream.writableFinished) close();
    else stream.once("finish", close);
  }

  /** A header list as Node's outgoing HTTP/2 headers: a null-prototype object ("__proto__" stays a plain key). */
  private outgoing(status: number | undefined, headers: HeaderList): OutgoingHttpHeaders {
    const out = Object.create(null) as OutgoingHttpHeaders;
    if (status !== undefined) out[":status"] = status;
    headers.forEachAppended((k, v) => {
      const cur = out[k];
      if (cur === undefined) out[k] = v;
      else if (Array.isArray(cur)) cur.push(v);
      else out[k] = [String(cur), v];
    });
    // As @hono/node-server's answers: a content type on every head.
    if (!this.trailers && status !== undefined) out["content-type"] ??= "text/plain; charset=UTF-8";
    return out;
  }
}

/**
 * The stream is reset or destroyed: nothing more can be sent (`respond()` would throw
 * ERR_HTTP2_INVALID_STREAM on a stream the client reset whose body has not been read to its end).
 */
function gone(stream: ServerHttp2Stream): boolean {
  return stream.destroyed || stream.closed;
}
