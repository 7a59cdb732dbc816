/**
 * Base64 for gRPC-Web text mode, Connect GET and `-bin` metadata: an incremental decoder that takes
 * chunks on any boundary, and encoders that write ASCII bytes directly (no strings on the hot path).
 */
import { Code, ConnectError } from "@connectrpc/connect";

const stdChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const urlChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const stdEnc = Uint8Array.from(stdChars, (c) => c.charCodeAt(0));
const urlEnc = Uint8Array.from(urlChars, (c) => c.charCodeAt(0));

const invalid = -1;
const skip = -2; // whitespace
const pad = -3; // "="
/** Byte → 6-bit value; accepts the standard and the URL-safe alphabet. */
const dec = new Int8Array(256).fill(invalid);
for (let i = 0; i < 64; i++) {
  dec[stdChars.charCodeAt(i)] = i;
  dec[urlChars.charCodeAt(i)] = i;
}
for (const c of [9, 10, 13, 32]) dec[c] = skip;
dec[61] = pad;

/**
 * An incremental base64 decoder. {@link push} takes ASCII bytes split anywhere (not aligned to 4) and
 * returns the bytes of the complete groups; {@link end} returns the rest. It accepts both alphabets,
 * whitespace, and several independently padded segments one after another (the gRPC-Web text response
 * form). A missing final padding is accepted. Every error it throws is a ConnectError (INVALID_ARGUMENT).
 */
export class Base64Decoder {
  private acc = 0; // bits of the current group
  private n = 0; // characters in the current group
  private padLeft = 0; // "=" still expected to close a group
  private offset = 0; // characters seen, for error messages

  /** Decodes the complete groups of a chunk. */
  push(chunk: Uint8Array): Uint8Array {
    const out = new Uint8Array((((this.n + chunk.byteLength) >> 2) + 1) * 3);
    let o = 0;
    let acc = this.acc;
    let n = this.n;
    for (let i = 0; i < chunk.byteLength; i++) {
      const v = dec[chunk[i]!]!;
      if (v >= 0) {
        if (this.padLeft > 0) this.fail(i, "data after padding");
        acc = (acc << 6) | v;
        if (++n === 4) {
          out[o++] = acc >>> 16;
          out[o++] = (acc >>> 8) & 0xff;
          out[o++] = acc & 0xff;
          acc = 0;
          n = 0;
        }
      } else if (v === pad) {
        if (this.padLeft > 0) {
          this.padLeft--;
        } else if (n === 2) {
          out[o++] = (acc >>> 4) & 0xff;
          this.padLeft = 1;
          acc = 0;
          n = 0;
        } else if (n === 3) {
          out[o++] = (acc >>> 10) & 0xff;
          out[o++] = (acc >>> 2) & 0xff;
          acc = 0;
          n = 0;
        } else {
          this.fail(i, "misplaced padding");
        }
      } else if (v !== skip) {
        this.fail(i, "invalid character");
      }
    }
    this.offset += chunk.byteLength;
    this.acc = acc;
    this.n = n;
    return out.subarray(0, o);
  }

  /** Ends the input: returns the bytes of an unpadded final group, throws if a lone character is left. */
  end(): Uint8Array {
    const { acc, n } = this;
    this.acc = 0;
    this.n = 0;
    this.padLeft = 0;
    if (n === 0) return new Uint8Array(0);
    if (n === 1) this.fail(0, "truncated input");
    if (n === 2) return Uint8Array.of((acc >>> 4) & 0xff);
    return Uint8Array.of((acc >>> 10) & 0xff, (acc >>> 2) & 0xff);
  }

  private fail(i: number, what: string): never {
    throw new ConnectError(`protocol error: invalid base64 (${what} at offset ${this.offset + i})`, Code.InvalidArgument);
  }
}

/** Decodes a whole base64 string (either alphabet, padded or not). Throws INVALID_ARGUMENT. */
export function base64Decode(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    bytes[i] = c > 0xff ? 0 : c; // 0 is not base64: reported as an invalid character
  }
  const d = new Base64Decoder();
  const a = d.push(bytes);
  const b = d.end();
  if (b.byteLength === 0) return a;
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a);
  out.set(b, a.byteLength);
  return out;
}

/** Encodes to padded standard base64 as ASCII bytes (gRPC-Web text segments). */
export function base64EncodeToBytes(data: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(Math.ceil(data.byteLength / 3) * 4);
  const o = encodeInto(data, out, stdEnc);
  for (let i = o; i < out.byteLength; i++) out[i] = 61;
  return out;
}

/**
 * Encodes to a base64 string. Default: standard alphabet without padding, the form gRPC prefers for
 * `-bin` metadata.
 */
export function base64Encode(data: Uint8Array, opts?: { url?: boolean; pad?: boolean }): string {
  const out = new Uint8Array(Math.ceil(data.byteLength / 3) * 4);
  let o = encodeInto(data, out, opts?.url ? urlEnc : stdEnc);
  if (opts?.pad) for (; o < out.byteLength; o++) out[o] = 61;
  let s = "";
  for (let i = 0; i < o; i += 0x2000) s += String.fromCharCode(...out.subarray(i, Math.min(o, i + 0x2000)));
  return s;
}

function encodeInto(data: Uint8Array, out: Uint8Array, enc: Uint8Array): number {
  let o = 0;
  const full = data.byteLength - (data.byteLength % 3);
  for (let i = 0; i < full; i += 3) {
    const v = (data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!;
    out[o++] = enc[v >>> 18]!;
    out[o++] = enc[(v >>> 12) & 63]!;
    out[o++] = enc[(v >>> 6) & 63]!;
    out[o++] = enc[v & 63]!;
  }
  const rest = data.byteLength - full;
  if (rest === 1) {
    const v = data[full]! << 16;
    out[o++] = enc[v >>> 18]!;
    out[o++] = enc[(v >>> 12) & 63]!;
  } else if (rest === 2) {
    const v = (data[full]! << 16) | (data[full + 1]! << 8);
    out[o++] = enc[v >>> 18]!;
    out[o++] = enc[(v >>> 12) & 63]!;
    out[o++] = enc[(v >>> 6) & 63]!;
  }
  return o;
}
