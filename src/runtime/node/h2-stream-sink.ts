/**
 * The seam's response sink on a raw HTTP/2 stream (`ServerHttp2Stream`), Node only: native gRPC's
 * transport. Headers go out in one HEADERS frame, trailers as real HTTP/2 trailers; a whole response
 * without a body (a gRPC trailers-only answer) is one HEADERS frame with END_STREAM. Each header value
 * is its own field, in the order the protocol appended them. `write` returns a promise while the
 * stream holds more than its high-water mark for the client (Node's `write()` returned false).
 */
import type { OutgoingHttpHeaders, ServerHttp2Stream } from "node:http2";
import type { HeaderList } from "../../protocol/header-list.js";
import type { UniversalResponseSink } from "../../protocol/universal.js";
import { whenDrained } from "./when-drained.js";

/** Writes one response on `stream` (see the module comment). */
export class H2StreamSink implements UniversalResponseSink {
  readonly trailers = true;
  private ended = false;
  private pendingTrailers: OutgoingHttpHeaders | undefined;
  private drainWait: Promise<void> | undefined;

  constructor(private readonly stream: ServerHttp2Stream) {
    // The compat response's listener (it would send empty trailers): the trailers are this sink's.
    stream.removeAllListeners("wantTrailers");
  }

  head(status: number, headers: HeaderList): void {
    const stream = this.stream;
    if (this.ended || stream.headersSent || stream.destroyed) return;
    stream.respond(outgoing(status, headers), { waitForTrailers: true });
    stream.once("wantTrailers", () => {
      if (!stream.destroyed) stream.sendTrailers(this.pendingTrailers ?? {});
    });
  }

  write(chunk: Uint8Array): void | Promise<void> {
    const stream = this.stream;
    if (this.ended || stream.destroyed || !stream.headersSent) return;
    if (stream.write(chunk)) return;
    return (this.drainWait ??= whenDrained(stream).then(() => {
      this.drainWait = undefined;
    }));
  }

  end(trailers?: HeaderList): void {
    if (this.ended) return;
    this.ended = true;
    const stream = this.stream;
    if (!stream.destroyed && stream.headersSent) {
      if (trailers !== undefined) this.pendingTrailers = outgoing(undefined, trailers);
      stream.end();
    }
    this.dropRequest();
  }

  respond(status: number, headers: HeaderList, body?: Uint8Array): void {
    if (this.ended) return;
    this.ended = true;
    const stream = this.stream;
    if (!stream.destroyed && !stream.headersSent) {
      if (body === undefined || body.byteLength === 0) {
        stream.respond(outgoing(status, headers), { endStream: true });
      } else {
        stream.respond(outgoing(status, headers));
        stream.end(body);
      }
    }
    this.dropRequest();
  }

  /** Whatever the client still sends is read and dropped, so the stream can close. */
  private dropRequest(): void {
    if (!this.stream.destroyed && !this.stream.readableEnded) this.stream.resume();
  }
}

/** A header list as Node's outgoing HTTP/2 headers: a null-prototype object ("__proto__" stays a plain key). */
function outgoing(status: number | undefined, headers: HeaderList): OutgoingHttpHeaders {
  const out = Object.create(null) as OutgoingHttpHeaders;
  if (status !== undefined) out[":status"] = status;
  headers.forEachAppended((k, v) => {
    const cur = out[k];
    if (cur === undefined) out[k] = v;
    else if (Array.isArray(cur)) cur.push(v);
    else out[k] = [String(cur), v];
  });
  return out;
}
