/**
 * Turns `(service, sticky key)` into a JetStream KV key. KV keys allow only `[-/_=.a-zA-Z0-9]` and
 * `.` separates subject tokens, while room ids are arbitrary client or IdP strings (`*`, `>`,
 * spaces, unicode, lone surrogates, megabytes). Each part becomes one token, injectively:
 *
 * | token          | when                                                        |
 * |----------------|-------------------------------------------------------------|
 * | `r-<as is>`    | 1–64 chars of `[-_a-zA-Z0-9]` (readable in `nats kv ls`)     |
 * | `b-<base64url>`| well-formed unicode, ≤ 96 UTF-8 bytes                        |
 * | `u-<base64url>`| has lone surrogates, ≤ 48 UTF-16 units (UTF-16BE bytes)      |
 * | `h-<base64url>`| anything longer: SHA-256 of the bytes above (43 chars)       |
 *
 * The prefixes keep the classes apart, so two different strings never share a key (up to SHA-256
 * collisions for long ones). Keys are at most 2 × 130 characters.
 */
import { sha256 } from "./sha256.js";

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const RAW = /^[-_a-zA-Z0-9]{1,64}$/;
const encoder = new TextEncoder();

/** Unpadded base64url of `bytes`. */
export function base64url(bytes: Uint8Array): string {
  let out = "";
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += B64[n >>> 18]! + B64[(n >>> 12) & 63]! + B64[(n >>> 6) & 63]! + B64[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += B64[n >>> 18]! + B64[(n >>> 12) & 63]!;
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += B64[n >>> 18]! + B64[(n >>> 12) & 63]! + B64[(n >>> 6) & 63]!;
  }
  return out;
}

/** Whether `s` has no lone surrogates (so UTF-8 encoding is lossless). */
function wellFormed(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c > 0xdbff) return false;
    const d = s.charCodeAt(i + 1);
    if (!(d >= 0xdc00 && d <= 0xdfff)) return false;
    i++;
  }
  return true;
}

/** UTF-16BE code units, prefixed with 0xFF (a byte UTF-8 never contains) to keep it apart from UTF-8. */
function utf16Tagged(s: string): Uint8Array {
  const out = new Uint8Array(1 + s.length * 2);
  out[0] = 0xff;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out[1 + i * 2] = c >>> 8;
    out[2 + i * 2] = c & 0xff;
  }
  return out;
}

/** Encodes any string as one KV key token (see the table above). */
export function keyToken(s: string): string {
  if (RAW.test(s)) return "r-" + s;
  if (wellFormed(s)) {
    const bytes = encoder.encode(s);
    return bytes.length <= 96 ? "b-" + base64url(bytes) : "h-" + base64url(sha256(bytes));
  }
  const bytes = utf16Tagged(s);
  return s.length <= 48 ? "u-" + base64url(bytes.subarray(1)) : "h-" + base64url(sha256(bytes));
}

/** The KV key of a sticky placement: `<token(service)>.<token(key)>`. */
export function placementKey(service: string, key: string): string {
  return keyToken(service) + "." + keyToken(key);
}
