/**
 * One HTTP/2 request and its whole answer (head, trailers, body) on Node's client, over sessions kept
 * per base URL. What the tests that compare raw h2c answers share (the differential test, the Node
 * gate against the app). Node only.
 */
import http2 from "node:http2";

/** A whole HTTP/2 answer as Node's client read it. */
export interface H2Answer {
  readonly status: number;
  /** The response head, pseudo-headers included. */
  readonly head: http2.IncomingHttpHeaders;
  /** The HTTP trailers (`{}` when none came). */
  readonly trailers: http2.IncomingHttpHeaders;
  readonly body: Buffer;
}

/** h2c sessions kept open per base URL (`http://host:port`), opened again once closed. */
export class H2Sessions {
  private readonly sessions = new Map<string, http2.ClientHttp2Session>();

  get(base: string): http2.ClientHttp2Session {
    let s = this.sessions.get(base);
    if (s === undefined || s.destroyed || s.closed) {
      s = http2.connect(base);
      s.on("error", () => {});
      this.sessions.set(base, s);
    }
    return s;
  }

  /** Sends `headers` (with `:method` and `:path`) and `body` (none: END_STREAM on the headers); resolves with the whole answer. */
  exchange(base: string, headers: http2.OutgoingHttpHeaders, body?: Uint8Array): Promise<H2Answer> {
    return new Promise((resolve, reject) => {
      const st = this.get(base).request(headers, { endStream: body === undefined });
      let head: http2.IncomingHttpHeaders = {};
      let trailers: http2.IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      st.on("response", (h) => (head = h));
      st.on("trailers", (t) => (trailers = t));
      st.on("data", (c: Buffer) => chunks.push(c));
      st.on("end", () => resolve({ status: Number(head[":status"]), head, trailers, body: Buffer.concat(chunks) }));
      st.on("error", reject);
      if (body !== undefined) st.end(body);
    });
  }

  close(): void {
    for (const s of this.sessions.values()) s.destroy();
    this.sessions.clear();
  }
}
