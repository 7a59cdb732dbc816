/**
 * nats-grpc envelopes (`nrpc.Request`, `nrpc.Response`): one envelope is one NATS message payload.
 * Encoding goes through the protoc-gen-es schemas, except the shapes every call sends (Call, Data),
 * written by hand to the same bytes; this file only builds the few shapes we send.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { ConnectError } from "@connectrpc/connect";
import { StatusSchema } from "../gen/google/rpc/status_pb.js";
import {
  MetadataSchema,
  RequestSchema,
  ResponseSchema,
  type Metadata as WireMetadata,
  type Request,
  type Response,
} from "../gen/nrpc/nrpc_pb.js";
import type { Metadata } from "../core/metadata.js";
import { headroomOf } from "../protocol/message-buffer.js";

export type { Request, Response } from "../gen/nrpc/nrpc_pb.js";

/** Metadata → nrpc.Metadata, or undefined when empty (Go's MakeMetadata omits empty metadata). */
export function toWireMetadata(md: Metadata | undefined): WireMetadata | undefined {
  if (!md || md.size === 0) return undefined;
  const out: Record<string, { $typeName: "nrpc.Strings"; values: string[] }> = {};
  for (const [k, values] of md) out[k] = { $typeName: "nrpc.Strings", values };
  return create(MetadataSchema, { md: out });
}

/** nrpc.Metadata → Metadata (lower-cased keys; values appended as Go does). */
export function fromWireMetadata(wire: WireMetadata | undefined): Metadata {
  const md: Metadata = new Map();
  if (!wire) return md;
  for (const k of Object.keys(wire.md)) {
    const values = wire.md[k]?.values ?? [];
    const key = k.toLowerCase();
    const prev = md.get(key);
    if (prev) prev.push(...values);
    else md.set(key, values);
  }
  return md;
}

function wireStatus(code: number, message: string) {
  return create(StatusSchema, { code, message });
}

/**
 * Request.call. Written by hand (one per call, where protobuf-es reflection showed in the bench
 * profile), the bytes protobuf-es writes: `12 <len> [0a method] [12 Metadata] [1a nid]`, empty strings
 * omitted (proto3), Metadata present when there is any, each map entry `0a <len> 0a key 12 Strings`.
 * Metadata with a key whose place in a JS object is not its insertion place (an array index such as
 * `"7"`, or `__proto__`, which the object-backed map protobuf-es writes drops) takes the reflective
 * encoder, {@link encodeCallReflect}, so the bytes stay the same.
 */
export function encodeCall(method: string, nid: string, md: Metadata | undefined): Uint8Array {
  const lm = utf8Length(method);
  const ln = utf8Length(nid);
  let mdLen = -1; // no Metadata field
  // Pass 1 records, in write order, per entry: entry length, key length, Strings length, each value's length.
  const lens = scratchLens;
  let nl = 0;
  if (md !== undefined && md.size > 0) {
    mdLen = 0;
    for (const [k, values] of md) {
      if (!isPlainObjectKey(k)) return encodeCallReflect(method, nid, md);
      const at = nl;
      nl += 3;
      let vl = 0;
      for (const v of values) {
        const n = utf8Length(v);
        lens[nl++] = n;
        vl += 1 + varintSize(n) + n;
      }
      const lk = utf8Length(k);
      const el = 1 + varintSize(lk) + lk + 1 + varintSize(vl) + vl;
      lens[at] = el;
      lens[at + 1] = lk;
      lens[at + 2] = vl;
      mdLen += 1 + varintSize(el) + el;
    }
  }
  const callLen =
    (lm > 0 ? 1 + varintSize(lm) + lm : 0) + (mdLen >= 0 ? 1 + varintSize(mdLen) + mdLen : 0) + (ln > 0 ? 1 + varintSize(ln) + ln : 0);
  const out = new Uint8Array(1 + varintSize(callLen) + callLen);
  out[0] = 0x12;
  let p = writeVarint(out, 1, callLen);
  if (lm > 0) p = writeString(out, p, 0x0a, method, lm);
  if (mdLen >= 0) {
    out[p++] = 0x12;
    p = writeVarint(out, p, mdLen);
    let i = 0;
    for (const [k, values] of md!) {
      out[p++] = 0x0a;
      p = writeVarint(out, p, lens[i]!);
      p = writeString(out, p, 0x0a, k, lens[i + 1]!);
      out[p++] = 0x12;
      p = writeVarint(out, p, lens[i + 2]!);
      i += 3;
      for (const v of values) p = writeString(out, p, 0x0a, v, lens[i++]!);
    }
  }
  if (ln > 0) p = writeString(out, p, 0x1a, nid, ln);
  return out;
}

/** {@link encodeCall}'s lengths from its sizing pass to its writing pass (synchronous: one call at a time). */
const scratchLens: number[] = [];

/** Request.call through protobuf-es reflection: the reference {@link encodeCall} must equal. */
export function encodeCallReflect(method: string, nid: string, md: Metadata | undefined): Uint8Array {
  return toBinary(
    RequestSchema,
    create(RequestSchema, { type: { case: "call", value: { method, nid, metadata: toWireMetadata(md) } } }),
  );
}

/**
 * True when a key keeps its insertion place among an object's own keys and is an own key at all:
 * not an array index (those come first, in numeric order) and not `__proto__`.
 */
function isPlainObjectKey(k: string): boolean {
  if (k === "__proto__") return false;
  const c = k.charCodeAt(0);
  if (!(c >= 0x30 && c <= 0x39)) return true; // not a digit: not an index
  return !/^(?:0|[1-9][0-9]*)$/.test(k) || Number(k) >= 4294967295;
}

/** UTF-8 length of a string as TextEncoder writes it (a lone surrogate becomes U+FFFD, 3 bytes). */
function utf8Length(s: string): number {
  const n = s.length;
  let len = n;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) len += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      len += 2; // a pair: 4 bytes for 2 code units
      i++;
    } else len += 2;
  }
  return len;
}

const utf8 = new TextEncoder();

/** Writes `tag <len> utf8(s)`; `len` is {@link utf8Length}(s). */
function writeString(b: Uint8Array, pos: number, tag: number, s: string, len: number): number {
  b[pos++] = tag;
  pos = writeVarint(b, pos, len);
  if (len === s.length) {
    for (let i = 0; i < len; i++) b[pos + i] = s.charCodeAt(i);
  } else {
    utf8.encodeInto(s, b.subarray(pos, pos + len));
  }
  return pos + len;
}

/**
 * Request.data / Response.data share one shape: field 3 holding Data{data}. Written by hand (one per
 * message on every call, where reflection showed in the bench profile); the bytes are what
 * protobuf-es writes: `1a <len> [0a <len> data]`, the inner field omitted for empty data (proto3).
 * A message with spare bytes in front (src/protocol/message-buffer.ts: a body read in pieces) gets
 * its header written there and is not copied: the envelope is a view over the same buffer.
 */
export function encodeData(data: Uint8Array): Uint8Array {
  const n = data.byteLength;
  const inner = n === 0 ? 0 : 1 + varintSize(n) + n;
  const head = 1 + varintSize(inner) + inner - n;
  if (n > 0 && headroomOf(data) >= head) {
    const out = new Uint8Array(data.buffer, data.byteOffset - head, head + n);
    out[0] = 0x1a;
    const p = writeVarint(out, 1, inner);
    out[p] = 0x0a;
    writeVarint(out, p + 1, n);
    return out;
  }
  const out = new Uint8Array(1 + varintSize(inner) + inner);
  out[0] = 0x1a;
  let p = writeVarint(out, 1, inner);
  if (n > 0) {
    out[p++] = 0x0a;
    p = writeVarint(out, p, n);
    out.set(data, p);
  }
  return out;
}

/** Bytes of the envelope {@link encodeData} writes for a message of `n` bytes. */
export function dataEnvelopeBytes(n: number): number {
  const inner = n === 0 ? 0 : 1 + varintSize(n) + n;
  return 1 + varintSize(inner) + inner;
}

/**
 * The largest message whose Data envelope fits in `maxPayload` bytes (a NATS server's `max_payload`):
 * 8 bytes less for 1 MiB, at most 12 less for any payload NATS allows.
 */
export function largestDataMessage(maxPayload: number): number {
  let n = Math.max(0, maxPayload - 12);
  while (dataEnvelopeBytes(n + 1) <= maxPayload) n++;
  while (n > 0 && dataEnvelopeBytes(n) > maxPayload) n--;
  return n;
}

function varintSize(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;
}

function writeVarint(b: Uint8Array, pos: number, n: number): number {
  while (n >= 0x80) {
    b[pos++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  b[pos++] = n;
  return pos;
}

let varintEnd = 0;

/** Reads a varint of at most 32 bits at `pos` (end in `varintEnd`), or -1. */
function readVarint32(b: Uint8Array, pos: number): number {
  let v = 0;
  for (let shift = 0; shift < 35; shift += 7) {
    if (pos >= b.length) return -1;
    const x = b[pos++]!;
    v += (x & 0x7f) * 2 ** shift;
    if (x < 0x80) {
      varintEnd = pos;
      return v <= 0xffffffff ? v : -1;
    }
  }
  return -1;
}

/**
 * The payload of an envelope that is exactly `Data{data}` (field 3, holding only field 1), else
 * undefined (then the full decoder runs). A subarray: no copy, as fromBinary.
 */
function dataPayload(b: Uint8Array): Uint8Array | undefined {
  if (b.length < 2 || b[0] !== 0x1a) return undefined;
  const len = readVarint32(b, 1);
  if (len < 0 || varintEnd + len !== b.length) return undefined;
  if (len === 0) return b.subarray(b.length);
  let p = varintEnd;
  if (b[p++] !== 0x0a) return undefined;
  const n = readVarint32(b, p);
  if (n < 0 || varintEnd + n !== b.length) return undefined;
  return b.subarray(varintEnd, b.length);
}

/** Request.end{} (half-close) or Request.end{status} (cancel; code must not be 0). */
export function encodeRequestEnd(code?: number, message = ""): Uint8Array {
  if (!code) return new Uint8Array([0x22, 0x00]); // End{}
  const status = code ? wireStatus(code, message) : undefined;
  return toBinary(RequestSchema, create(RequestSchema, { type: { case: "end", value: { status } } }));
}

/** Response.begin{header, nid} */
export function encodeBegin(header: Metadata | undefined, nid: string): Uint8Array {
  return toBinary(
    ResponseSchema,
    create(ResponseSchema, { type: { case: "begin", value: { header: toWireMetadata(header), nid } } }),
  );
}

/** Response.end: status absent for success (never code 0), plus trailers. */
export function encodeResponseEnd(error: ConnectError | undefined, trailer: Metadata | undefined): Uint8Array {
  if (error === undefined && (trailer === undefined || trailer.size === 0)) return new Uint8Array([0x22, 0x00]); // End{}: every OK call
  const status = error ? wireStatus(error.code, error.rawMessage) : undefined;
  return toBinary(
    ResponseSchema,
    create(ResponseSchema, { type: { case: "end", value: { status, trailer: toWireMetadata(trailer) } } }),
  );
}

/** Decodes a client→server envelope; throws on malformed bytes. Data takes a fast path. */
export function decodeRequest(bytes: Uint8Array): Request {
  const data = dataPayload(bytes);
  if (data !== undefined) return { $typeName: "nrpc.Request", type: { case: "data", value: { $typeName: "nrpc.Data", data } } };
  return fromBinary(RequestSchema, bytes);
}

/** Decodes a server→client envelope; throws on malformed bytes. Data takes a fast path. */
export function decodeResponse(bytes: Uint8Array): Response {
  const data = dataPayload(bytes);
  if (data !== undefined) return { $typeName: "nrpc.Response", type: { case: "data", value: { $typeName: "nrpc.Data", data } } };
  return fromBinary(ResponseSchema, bytes);
}
