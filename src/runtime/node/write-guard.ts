/**
 * Response bytes queued on HTTP/2 streams for clients that do not read (Node only, used by the
 * one-port server). HTTP/2 flow control lets a client stop a stream (no WINDOW_UPDATE) while the
 * connection stays healthy; everything written to that stream then waits in the gateway, and a call
 * ended at its buffer limit still holds its bytes until the stream closes. This counts, per stream and
 * per connection, the bytes written and not yet taken by nghttp2 (a write's callback runs once the
 * chunk went out), and resets a stream (RST_STREAM ENHANCE_YOUR_CALM, which gRPC clients read as
 * RESOURCE_EXHAUSTED) when
 * - a write takes its connection past `maxConnectionBufferedBytes`, or
 * - it has bytes queued and none went out for `writeStallTimeoutMs`.
 * A reset stream's queued bytes are dropped at once. Streams with nothing queued (a server stream
 * waiting for its next event) are never timed out here.
 */
import http2, { type Http2Session, type ServerHttp2Stream } from "node:http2";

/** Limits of {@link createWriteGuard}. */
export interface WriteGuardOptions {
  /** Response bytes one connection may hold queued across its streams. 0 = no bound. */
  maxConnectionBufferedBytes: number;
  /** A stream with bytes queued and none sent for this long is reset. 0 = never. */
  writeStallTimeoutMs: number;
}

/** Watches the streams of a server's HTTP/2 connections. */
export interface WriteGuard {
  /** Starts counting `stream`'s writes (call on the session's 'stream' event, before anything is written). */
  watch(session: Http2Session, stream: ServerHttp2Stream): void;
  /** Response bytes queued on all watched streams. */
  queuedBytes(): number;
  /** Streams reset so far, by reason. */
  readonly resets: { readonly connectionBound: number; readonly stalled: number };
  /** Stops the stall timer. */
  close(): void;
}

interface Watched {
  readonly stream: ServerHttp2Stream;
  readonly conn: { queued: number };
  queued: number;
  /** When the queue last moved (a chunk went out) or became non-empty. */
  since: number;
  closed: boolean;
}

/** Creates the guard (see the module comment). */
export function createWriteGuard(opts: WriteGuardOptions): WriteGuard {
  const conns = new WeakMap<Http2Session, { queued: number }>();
  /** Streams with bytes queued: the only ones the stall check looks at. */
  const waiting = new Set<Watched>();
  let total = 0;
  const resets = { connectionBound: 0, stalled: 0 };
  const reset = (w: Watched, why: keyof typeof resets) => {
    if (w.closed || w.stream.destroyed) return;
    resets[why]++;
    forget(w);
    w.stream.close(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
  };
  const forget = (w: Watched) => {
    if (w.closed) return;
    w.closed = true;
    w.conn.queued -= w.queued;
    total -= w.queued;
    w.queued = 0;
    waiting.delete(w);
  };

  const stallMs = opts.writeStallTimeoutMs;
  // Checked every quarter of the timeout: a stalled stream is reset within 1.25 × the timeout.
  const timer =
    stallMs > 0
      ? setInterval(() => {
          const now = Date.now();
          for (const w of waiting) if (now - w.since >= stallMs) reset(w, "stalled");
        }, Math.max(50, Math.floor(stallMs / 4)))
      : undefined;
  timer?.unref();

  return {
    watch(session, stream) {
      let conn = conns.get(session);
      if (conn === undefined) conns.set(session, (conn = { queued: 0 }));
      const w: Watched = { stream, conn, queued: 0, since: 0, closed: false };
      const write = stream.write;
      // Every response byte goes through write() (the gRPC responder, and the compat response's
      // write() and end(chunk)); the callback tells when nghttp2 took the chunk off the queue.
      stream.write = function (this: ServerHttp2Stream, chunk: unknown, encoding?: unknown, cb?: unknown): boolean {
        if (typeof encoding === "function") {
          cb = encoding;
          encoding = undefined;
        }
        const n = typeof chunk === "string" ? Buffer.byteLength(chunk, encoding as BufferEncoding | undefined) : (chunk as Uint8Array).byteLength;
        if (!w.closed) {
          if (w.queued === 0) {
            w.since = Date.now();
            waiting.add(w);
          }
          w.queued += n;
          w.conn.queued += n;
          total += n;
        }
        const ok = write.call(this, chunk, encoding as BufferEncoding, (err?: Error | null) => {
          if (!w.closed) {
            w.queued -= n;
            w.conn.queued -= n;
            total -= n;
            w.since = Date.now();
            if (w.queued === 0) waiting.delete(w);
          }
          if (typeof cb === "function") (cb as (e?: Error | null) => void)(err);
        });
        if (opts.maxConnectionBufferedBytes > 0 && w.conn.queued > opts.maxConnectionBufferedBytes) reset(w, "connectionBound");
        return ok;
      } as ServerHttp2Stream["write"];
      // A stream already closed (its client went away before the call got here) sends no 'close' again.
      if (stream.closed || stream.destroyed) forget(w);
      else stream.once("close", () => forget(w));
    },
    queuedBytes: () => total,
    resets,
    close() {
      clearInterval(timer);
    },
  };
}
