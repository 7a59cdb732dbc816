/**
 * gRPC-Web and gRPC framing for tests, written from the protocol specs, not from the gateway's code
 * (Node test process): envelopes (flags, u32 length, message), the `key: value\r\n` header blocks
 * of trailer frames and grpc-websockets header frames, a whole gRPC-Web response (messages and
 * status, trailers-only included), and gRPC-Web-text's base64. The one parser every test uses.
 */
import assert from "node:assert/strict";
import type { Code } from "@connectrpc/connect";

const dec = new TextDecoder();

/** One envelope: flags(1) | length(u32 BE) | data. */
export function envelope(data: Uint8Array, flags = 0): Uint8Array<ArrayBuffer> {
  const f = new Uint8Array(5 + data.length);
  f[0] = flags;
  new DataView(f.buffer).setUint32(1, data.length);
  f.set(data, 5);
  return f;
}

/** One envelope as parsed. */
export interface Envelope {
  flags: number;
  data: Uint8Array;
}

/** Splits a body into envelopes; fails the test on a truncated prefix or payload. */
export function envelopes(body: Uint8Array): Envelope[] {
  const out: Envelope[] = [];
  for (let i = 0; i < body.length; ) {
    assert.ok(i + 5 <= body.length, "envelope prefix complete");
    const len = new DataView(body.buffer, body.byteOffset + i + 1, 4).getUint32(0);
    assert.ok(i + 5 + len <= body.length, "envelope complete");
    out.push({ flags: body[i]!, data: body.slice(i + 5, i + 5 + len) });
    i += 5 + len;
  }
  return out;
}

/**
 * A header block (gRPC-Web trailer frame, grpc-websockets header frame): `key: value` lines ended by
 * CRLF, keys lower-cased, values trimmed. Lines without a colon are skipped.
 */
export function headerBlock(block: Uint8Array | string): Map<string, string> {
  const md = new Map<string, string>();
  for (const line of (typeof block === "string" ? block : dec.decode(block)).split("\r\n")) {
    const i = line.indexOf(":");
    if (i > 0) md.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
  return md;
}

/** What a gRPC-Web response says. `status` is false when no `grpc-status` came at all (then `code` is NaN). */
export interface GrpcWebResult {
  data: Uint8Array[];
  trailers: Map<string, string>;
  code: Code;
  message: string;
  status: boolean;
}

/**
 * A gRPC-Web response body (binary): its messages, and the trailer frame's fields, or the HTTP
 * headers for a trailers-only response. The trailer frame must be the last envelope.
 */
export function grpcWebResult(headers: Headers, body: Uint8Array): GrpcWebResult {
  const frames = envelopes(body);
  const data = frames.filter((f) => (f.flags & 0x80) === 0).map((f) => f.data);
  const t = frames.find((f) => f.flags & 0x80);
  let trailers: Map<string, string>;
  if (t) {
    assert.equal(frames.at(-1), t, "the trailer frame is last");
    trailers = headerBlock(t.data);
  } else {
    trailers = new Map();
    headers.forEach((v, k) => trailers.set(k, v));
  }
  const s = trailers.get("grpc-status");
  return { data, trailers, code: Number(s) as Code, message: decodeURIComponent(trailers.get("grpc-message") ?? ""), status: s !== undefined };
}

/** Standard base64 (gRPC-Web-text), and base64url without padding (Connect GET). */
export const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");
export const b64url = (b: Uint8Array | string) => Buffer.from(b).toString("base64url");

/** Decodes a gRPC-Web-text body (concatenated base64 chunks, each possibly padded). */
export function fromGrpcWebText(text: string): Uint8Array {
  const parts = text.match(/[^=]+=*/g) ?? [];
  return new Uint8Array(Buffer.concat(parts.map((p) => Buffer.from(p, "base64"))));
}
