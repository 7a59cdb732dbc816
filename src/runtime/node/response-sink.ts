/**
 * The seam's response sink on an HTTP/1.1 `ServerResponse`, Node only. It writes as
 * @hono/node-server writes the app's `Response`, so that both paths answer alike
 * (test/stack/gateway/node-fast-path.test.ts compares them header by header):
 * - every head gets `text/plain; charset=UTF-8` when no content type was set;
 * - a whole response ({@link NodeResponseSink.respond}) is one `writeHead` and one `end(body)`, with
 *   a `Content-Length`;
 * - a streamed one (`head`/`write`/`end`) holds its head until the end of the turn it was opened in:
 *   a response also complete within that turn goes out as one write with a `Content-Length`, a longer
 *   one is chunked, the head first and each later chunk as it comes. `write` returns a promise while
 *   Node holds more than `highWaterMark` bytes for the client.
 */
import type { ServerResponse } from "node:http";
import type { HeaderList } from "../../protocol/header-list.js";
import type { UniversalResponseSink } from "../../protocol/universal.js";
import { whenDrained } from "./when-drained.js";

/** Writes one response into `res` (see the module comment). */
export class NodeResponseSink implements UniversalResponseSink {
  readonly trailers = false;
  private status = 200;
  private headers: HeaderList | undefined;
  /** Chunks written before the head went out. */
  private held: Uint8Array[] | undefined;
  private headSent = false;
  private ended = false;
  private drained: Promise<void> | undefined;

  constructor(
    private readonly res: ServerResponse,
    private readonly highWaterMark: number,
    /** Adds headers to every response's head (the gate: CORS for an allowed origin). */
    private readonly decorate?: (h: HeaderList) => void,
  ) {}

  head(status: number, headers: HeaderList): void {
    if (this.headers !== undefined || this.ended) return;
    this.decorate?.(headers);
    this.status = status;
    this.headers = headers;
    this.held = [];
    setImmediate(() => this.sendHead());
  }

  write(chunk: Uint8Array): void | Promise<void> {
    if (this.ended) return;
    if (!this.headSent) {
      this.held?.push(chunk);
      return;
    }
    const res = this.res;
    if (res.destroyed) return;
    res.write(chunk);
    if (res.writableLength > this.highWaterMark) {
      return (this.drained ??= whenDrained(res).then(() => {
        this.drained = undefined;
      }));
    }
  }

  end(): void {
    if (this.ended || this.headers === undefined) return;
    this.ended = true;
    if (this.headSent) {
      this.res.end();
      return;
    }
    // Complete within its first turn: one write with a Content-Length.
    this.headSent = true;
    const held = this.held!;
    this.held = undefined;
    const body = held.length === 1 ? held[0]! : Buffer.concat(held);
    const out = outgoingHeaders(this.headers);
    out["content-length"] = body.byteLength;
    try {
      this.res.writeHead(this.status, out);
      this.res.end(body);
    } catch {
      this.res.destroy(); // the connection is gone, or broken
    }
  }

  respond(status: number, headers: HeaderList, body?: Uint8Array): void {
    if (this.ended || this.headers !== undefined) return;
    this.ended = true;
    this.headSent = true;
    this.decorate?.(headers);
    const out = outgoingHeaders(headers);
    if (body !== undefined && !("content-length" in out)) out["Content-Length"] = body.byteLength;
    try {
      this.res.writeHead(status, out);
      this.res.end(body);
    } catch {
      this.res.destroy();
    }
  }

  private sendHead(): void {
    if (this.headSent) return;
    this.headSent = true;
    const held = this.held!;
    this.held = undefined;
    try {
      this.res.writeHead(this.status, outgoingHeaders(this.headers!));
      if (held.length === 0) this.res.flushHeaders();
      for (const d of held) this.res.write(d);
    } catch {
      this.res.destroy();
    }
  }
}

/** Response headers as @hono/node-server passes a `Headers` to `writeHead` (`buildOutgoingHttpHeaders`: with a default content type). */
export function outgoingHeaders(headers: HeaderList): Record<string, string | string[] | number> {
  const out: Record<string, string | string[] | number> = {};
  let cookies: string[] | undefined;
  for (const [k, v] of headers.entries()) {
    if (k === "set-cookie") (cookies ??= []).push(v);
    else out[k] = v;
  }
  if (cookies !== undefined) out["set-cookie"] = cookies;
  out["content-type"] ??= "text/plain; charset=UTF-8";
  return out;
}
