/**
 * How fast HTTP/2 streams may be abandoned, per connection and per client address (Node only, used by
 * the one-port server): token buckets against rapid reset (CVE-2023-44487), where a client opens
 * streams and resets them at once, so that no limit on open streams or calls ever counts them — one
 * connection opened and reset 14,010 streams in 8 s, each a call the gateway started.
 *
 * A stream takes a token when it ends before the gateway has ended its response (Node's `aborted`:
 * the client reset it, or it was reset for stalling), which is what every stream of the attack does
 * and what a well-behaved client does seldom. Streams that are answered take none, so any number of
 * concurrent calls may open at once (1,000 on one connection, test/stack/gateway/concurrency.test.ts: a
 * limit on streams *opened* refused 350 of them with REFUSED_STREAM). When a bucket is empty the
 * connection is sent GOAWAY ENHANCE_YOUR_CALM and closed once its admitted streams are done; a stream
 * it opens after that (the rest of the flood, read before the GOAWAY went out) is refused
 * (REFUSED_STREAM, never handed to the call handler) and closes it at once, so the gateway stops
 * reading it. A client address whose bucket is empty has its new streams refused the same way until
 * it refills.
 */
import http2, { type Http2Session, type ServerHttp2Stream } from "node:http2";

/** A rate and a burst: `rate` abandoned streams a second on average, up to `burst` at once. 0 = no limit. */
export interface StreamRate {
  rate: number;
  burst: number;
}

/** Limits of {@link createStreamRateLimit}. */
export interface StreamRateOptions {
  perConnection: StreamRate;
  perIp: StreamRate;
}

/** The limiter of one server. */
export interface StreamRateLimit {
  /** Starts watching a new connection (call on the server's 'session' event). */
  watch(session: Http2Session): void;
  /** False for a stream refused when it opened (already answered), or already gone: not to be served. */
  admit(stream: ServerHttp2Stream): boolean;
  /** Streams refused and connections sent GOAWAY so far. */
  readonly refused: { streams: number; connections: number };
  /** Stops the timer that forgets refilled address buckets. */
  close(): void;
}

interface Bucket {
  tokens: number;
  at: number;
}

const enabled = (r: StreamRate) => r.rate > 0 && r.burst > 0;

/** Takes one token if there is one (refilled at `r.rate` a second up to `r.burst`). */
function take(b: Bucket, r: StreamRate, now: number): boolean {
  b.tokens = Math.min(r.burst, b.tokens + ((now - b.at) * r.rate) / 1000);
  b.at = now;
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

/** Creates the limiter (see the module comment). */
export function createStreamRateLimit(opts: StreamRateOptions): StreamRateLimit {
  const { perConnection, perIp } = opts;
  const ips = new Map<string, Bucket>();
  const refused = { streams: 0, connections: 0 };
  // An address's bucket that has refilled is the same as a new one: forget it (bounded map).
  const timer = enabled(perIp)
    ? setInterval(() => {
        const now = Date.now();
        for (const [ip, b] of ips) if (b.tokens + ((now - b.at) * perIp.rate) / 1000 >= perIp.burst) ips.delete(ip);
      }, 10_000)
    : undefined;
  timer?.unref();

  /** Streams refused when they opened: never handed to the listener. */
  const refusedStreams = new WeakSet<ServerHttp2Stream>();
  const ipBucket = (session: Http2Session, now: number): Bucket => {
    const ip = session.socket?.remoteAddress ?? "";
    let b = ips.get(ip);
    if (b === undefined) ips.set(ip, (b = { tokens: perIp.burst, at: now }));
    return b;
  };
  /** False when the address has no token left (refilled first, none taken). */
  const ipHasTokens = (session: Http2Session, now: number): boolean => {
    const b = enabled(perIp) ? ips.get(session.socket?.remoteAddress ?? "") : undefined;
    return b === undefined || Math.min(perIp.burst, b.tokens + ((now - b.at) * perIp.rate) / 1000) >= 1;
  };
  const takeFor = (session: Http2Session, c: Bucket, now: number): boolean => {
    const connOk = !enabled(perConnection) || take(c, perConnection, now);
    const ipOk = !enabled(perIp) || take(ipBucket(session, now), perIp, now);
    return connOk && ipOk;
  };

  return {
    watch(session) {
      const c = { tokens: perConnection.burst, at: Date.now(), refused: false };
      /** GOAWAY ENHANCE_YOUR_CALM after `lastId`; streams admitted up to it may finish. */
      const calm = (lastId: number) => {
        if (c.refused || session.closed || session.destroyed) return;
        c.refused = true;
        refused.connections++;
        session.goaway(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, Math.max(0, lastId));
        session.close();
      };
      // First, before the request listener sees the stream.
      session.prependListener("stream", (stream: ServerHttp2Stream) => {
        if (!c.refused && ipHasTokens(session, Date.now())) {
          // Ended before its response: the one kind of stream rapid reset is made of.
          stream.once("aborted", () => {
            if (!takeFor(session, c, Date.now())) calm(stream.id ?? 0);
          });
          return;
        }
        refused.streams++;
        refusedStreams.add(stream);
        stream.on("error", () => {});
        if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
        if (session.closed || session.destroyed) return;
        // Opened after its GOAWAY (the rest of the flood, read before the GOAWAY went out): stop reading it.
        if (c.refused) return void session.destroy();
        // The refused stream and any later one are past the GOAWAY's last stream id: the client
        // knows they were not processed.
        calm((stream.id ?? 2) - 2);
      });
    },
    admit: (stream) => !refusedStreams.has(stream) && !stream.destroyed,
    refused,
    close() {
      clearInterval(timer);
    },
  };
}
