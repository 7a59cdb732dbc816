/**
 * One raw unary-shaped call on each wire protocol, as a browser or a plain client sends it (Node test
 * process), and how it ended: an HTTP status when refused outright, else a gRPC code.
 */

import http2 from "node:http2";
import { Code } from "@connectrpc/connect";
import { b64, envelope, envelopes, fromGrpcWebText, grpcWebResult } from "../../helpers/grpc-web.js";
import { WsCall } from "../../helpers/grpc-websockets-client.js";

/** How a raw call ended: an HTTP status when refused outright, else a gRPC code (0 = OK). */
export interface Outcome {
  http?: number;
  code?: number;
  message?: string;
  /** Response messages (raw bytes). */
  data?: Uint8Array[];
  /** grpc-websockets: the WebSocket close code. */
  close?: number;
}

/** The protocols {@link rawCall} speaks. */
export const wireProtocols = ["connect", "connect-stream", "grpc-web", "grpc-web-text", "grpc-websockets", "grpc"] as const;
export type WireName = (typeof wireProtocols)[number];

const codeByName = (name: string): number => {
  const camel = name.replace(/(^|_)(\w)/g, (_m, _u, c: string) => c.toUpperCase()) as keyof typeof Code;
  return (Code[camel] as number | undefined) ?? -1;
};

/** A gRPC-Web body (binary) → messages and status (trailer frame, or the headers when trailers-only). */
export function grpcWebOutcome(headers: Headers, body: Uint8Array): Outcome {
  const r = grpcWebResult(headers, body);
  return { code: r.status ? r.code : -1, message: r.message, data: r.data };
}

/**
 * One call with one request message on `protocol`; `headers` become metadata (the grpc-websockets
 * header frame). Never throws for a refused call: the outcome says how it was refused.
 */
export async function rawCall(protocol: WireName, baseUrl: string, path: string, msg: Uint8Array, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Outcome> {
  const url = baseUrl + path;
  switch (protocol) {
    case "connect": {
      const r = await fetch(url, { method: "POST", headers: { "content-type": "application/proto", ...headers }, body: msg as Uint8Array<ArrayBuffer>, signal });
      const body = new Uint8Array(await r.arrayBuffer());
      if (r.status === 200) return { http: 200, code: 0, data: [body] };
      if (!(r.headers.get("content-type") ?? "").startsWith("application/json")) return { http: r.status };
      const j = JSON.parse(new TextDecoder().decode(body)) as { code: string; message?: string };
      return { http: r.status, code: codeByName(j.code), message: j.message };
    }
    case "connect-stream": {
      const r = await fetch(url, { method: "POST", headers: { "content-type": "application/connect+proto", ...headers }, body: envelope(msg), signal });
      const body = new Uint8Array(await r.arrayBuffer());
      if (r.status !== 200) return { http: r.status };
      const fs = envelopes(body);
      const end = fs.at(-1);
      if (!end || !(end.flags & 0x02)) return { http: 200, code: -1 };
      const j = JSON.parse(new TextDecoder().decode(end.data)) as { error?: { code: string; message?: string } };
      return { http: 200, code: j.error ? codeByName(j.error.code) : 0, message: j.error?.message, data: fs.filter((f) => !(f.flags & 0x02)).map((f) => f.data) };
    }
    case "grpc-web": {
      const r = await fetch(url, { method: "POST", headers: { "content-type": "application/grpc-web+proto", "x-grpc-web": "1", ...headers }, body: envelope(msg), signal });
      const body = new Uint8Array(await r.arrayBuffer());
      if (r.status !== 200) return { http: r.status };
      return { http: 200, ...grpcWebOutcome(r.headers, body) };
    }
    case "grpc-web-text": {
      const r = await fetch(url, { method: "POST", headers: { "content-type": "application/grpc-web-text", "x-grpc-web": "1", ...headers }, body: b64(envelope(msg)), signal });
      const text = await r.text();
      if (r.status !== 200) return { http: r.status };
      return { http: 200, ...grpcWebOutcome(r.headers, fromGrpcWebText(text)) };
    }
    case "grpc-websockets": {
      const c = new WsCall(baseUrl.replace(/^http/, "ws") + path);
      signal?.addEventListener("abort", () => c.ws.terminate(), { once: true });
      try {
        await c.start(headers, [msg], true);
      } catch {
        return { http: c.refused ?? -1 };
      }
      const closed = await c.closed;
      const hdrs = c.frames.filter((f): f is Extract<typeof f, { kind: "header" }> => f.kind === "header");
      const last = hdrs.at(-1);
      const s = last?.md.get("grpc-status");
      return { code: s === undefined ? -1 : Number(s), message: decodeURIComponent(last?.md.get("grpc-message") ?? ""), data: c.data, close: closed.code };
    }
    case "grpc": {
      const session = http2.connect(baseUrl);
      session.on("error", () => {});
      try {
        return await new Promise<Outcome>((resolve, reject) => {
          const req = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers", ...headers }, { signal });
          let out: Outcome = { code: -1 };
          const chunks: Buffer[] = [];
          req.on("response", (h) => {
            if (h[":status"] !== 200) out = { http: Number(h[":status"]) };
            else if (h["grpc-status"] !== undefined) out = { http: 200, code: Number(h["grpc-status"]), message: decodeURIComponent(String(h["grpc-message"] ?? "")) };
          });
          req.on("trailers", (t) => {
            out = { http: 200, code: Number(t["grpc-status"]), message: decodeURIComponent(String(t["grpc-message"] ?? "")) };
          });
          req.on("data", (c: Buffer) => chunks.push(c));
          req.on("end", () => {
            try {
              resolve({ ...out, data: envelopes(new Uint8Array(Buffer.concat(chunks))).map((f) => f.data) });
            } catch (e) {
              reject(e); // a truncated envelope: the call fails visibly
            }
          });
          req.on("error", (e) => resolve({ http: -1, message: String(e) }));
          req.end(envelope(msg));
        });
      } finally {
        session.close();
      }
    }
  }
}
