/**
 * A raw HTTP/2 stream (`ServerHttp2Stream` and its header object) as the seam's
 * {@link UniversalRequest}, Node only: the transport of native gRPC, and of Connect and gRPC-Web over
 * h2c through the Node gate. The body is read as the call consumes
 * it (HTTP/2 flow control pushes back on a fast client); a client's RST_STREAM is the client going
 * away — the request's `signal` fires and the body throws CANCELLED rather than reading as a
 * half-close (Node ends the body cleanly after 'aborted').
 */
import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import type { ClientWatch } from "../../protocol/client-signal.js";
import type { RequestHeaders } from "../../protocol/header-list.js";
import type { UniversalBody, UniversalRequest } from "../../protocol/universal.js";

/** The request on `stream`, whose headers are `headers` (the 'stream' event's, or `Http2ServerRequest.headers`). */
export function h2StreamRequest(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, remoteAddress?: string): UniversalRequest {
  const target = String(headers[":path"] ?? "/");
  const q = target.indexOf("?");
  const method = String(headers[":method"] ?? "");
  return {
    method,
    path: q === -1 ? target : target.slice(0, q),
    search: q === -1 ? "" : target.slice(q),
    httpVersion: "2.0",
    headers: new H2Headers(headers),
    authority: single(headers[":authority"]) ?? single(headers["host"]) ?? null,
    body: method === "GET" || method === "HEAD" ? null : h2Body(stream),
    signal: h2ClientWatch(stream),
    remoteAddress: remoteAddress ?? stream.session?.socket?.remoteAddress,
    closed: stream.destroyed ? Promise.resolve() : new Promise<void>((resolve) => stream.once("close", () => resolve())),
  };
}

/**
 * Node's incoming HTTP/2 header object as {@link RequestHeaders}: pseudo-headers skipped, visited in
 * the order received, each value of a repeated header (only `set-cookie` arrives as a list) apart.
 */
class H2Headers implements RequestHeaders {
  constructor(private readonly h: IncomingHttpHeaders) {}

  get(name: string): string | null {
    const v = this.h[name];
    return v === undefined ? null : Array.isArray(v) ? v.join(", ") : v;
  }

  forEach(cb: (value: string, key: string) => void): void {
    const h = this.h;
    for (const key in h) {
      if (key.charCodeAt(0) === 0x3a /* ":" */) continue;
      const v = h[key];
      if (v === undefined) continue;
      if (typeof v === "string") cb(v, key);
      else for (const s of v) cb(s, key);
    }
  }
}

/** The stream's body as it arrives; a failed read, or a reset, throws CANCELLED (a reset never reads as the end). */
function h2Body(stream: ServerHttp2Stream): UniversalBody {
  return {
    [Symbol.asyncIterator]() {
      const it = stream.iterator({ destroyOnReturn: false }) as AsyncIterator<Uint8Array>;
      return {
        async next() {
          let r: IteratorResult<Uint8Array>;
          try {
            r = await it.next();
          } catch (e) {
            throw new ConnectError(`reading the request failed: ${e instanceof Error ? e.message : String(e)}`, Code.Canceled);
          }
          if (r.done && stream.aborted) throw new ConnectError("reading the request failed: the client reset the stream", Code.Canceled);
          return r;
        },
        async return() {
          await it.return?.();
          return { done: true, value: undefined };
        },
      };
    },
  };
}

/** The client went away: the stream was reset ('aborted') or closed; at once if it already is. */
function h2ClientWatch(stream: ServerHttp2Stream): ClientWatch {
  return (onGone) => {
    if (stream.destroyed || stream.closed) {
      onGone();
      return noop;
    }
    let fired = false;
    const gone = () => {
      if (fired) return;
      fired = true;
      onGone();
    };
    // 'aborted' first: Node ends the body after it, and a reset must never read as a half-close.
    stream.once("aborted", gone);
    stream.once("close", gone);
    return () => {
      stream.off("aborted", gone);
      stream.off("close", gone);
    };
  };
}

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function noop(): void {}
