/**
 * Raw HTTP/1.1 clients of the reliability suite (Node test process): a request from a chosen loopback
 * source address (per-IP limits), and raw bytes on a fresh TCP connection read until the server closes.
 */

import http from "node:http";
import net from "node:net";

/** A plain HTTP/1.1 response, read whole. */
export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Uint8Array;
}

/** An HTTP/1.1 request from a chosen loopback source address (per-IP limits). */
export function httpRequest(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: Uint8Array | string; localAddress?: string; signal?: AbortSignal },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? "POST", headers: opts.headers, localAddress: opts.localAddress, agent: false, signal: opts.signal }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: new Uint8Array(Buffer.concat(chunks)) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(opts.body === undefined ? undefined : Buffer.from(opts.body));
  });
}

/** Writes raw bytes on a fresh TCP connection and collects everything until the server closes (or `ms`). */
export function rawExchange(port: number, data: string | Uint8Array, ms = 5000, localAddress?: string): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: "127.0.0.1", localAddress });
    const chunks: Buffer[] = [];
    let closed = false;
    const t = setTimeout(() => {
      s.destroy();
      resolve({ text: Buffer.concat(chunks).toString("latin1"), closed });
    }, ms);
    s.on("data", (c: Buffer) => chunks.push(c));
    s.on("error", () => {});
    s.on("close", () => {
      closed = true;
      clearTimeout(t);
      resolve({ text: Buffer.concat(chunks).toString("latin1"), closed });
    });
    s.write(typeof data === "string" ? Buffer.from(data, "latin1") : data);
  });
}
