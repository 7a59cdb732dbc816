/**
 * Cheap syntax checks on a compact JWS before any crypto or JSON work on the payload: bounded size,
 * exactly three canonical base64url segments, a JSON-object header with a supported `alg`.
 * Canonical means the unused low bits of the last character are zero, so one token has exactly one
 * spelling (a token cache keyed by the string cannot be sidestepped by re-spelling it).
 */
import { base64url } from "jose";
import { isJwsAlgorithm } from "./algorithms.js";
import type { JwsAlgorithm } from "./algorithms.js";
import { unauthenticated } from "./auth-errors.js";

/** The protected-header fields key selection needs. */
export interface TokenHeader {
  readonly alg: JwsAlgorithm;
  readonly kid: string | undefined;
}

const SEGMENT = /^[A-Za-z0-9_-]+$/;
const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Validates the token's shape and returns its header; throws UNAUTHENTICATED with the reason. */
export function parseTokenHeader(token: string, maxBytes: number): TokenHeader {
  if (token.length > maxBytes) throw unauthenticated("token too large", "invalid");
  const dot1 = token.indexOf(".");
  const dot2 = dot1 < 0 ? -1 : token.indexOf(".", dot1 + 1);
  if (dot2 < 0 || token.indexOf(".", dot2 + 1) >= 0) throw unauthenticated("malformed token", "malformed");
  const h = token.slice(0, dot1);
  if (!canonicalSegment(h) || !canonicalSegment(token.slice(dot1 + 1, dot2)) || !canonicalSegment(token.slice(dot2 + 1))) {
    throw unauthenticated("malformed token", "malformed");
  }
  let header: unknown;
  try {
    header = JSON.parse(decoder.decode(base64url.decode(h)));
  } catch {
    throw unauthenticated("malformed token", "malformed");
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) throw unauthenticated("malformed token", "malformed");
  const { alg, kid } = header as { alg?: unknown; kid?: unknown };
  if (typeof alg !== "string") throw unauthenticated("malformed token", "malformed");
  if (kid !== undefined && typeof kid !== "string") throw unauthenticated("malformed token", "malformed");
  if (!isJwsAlgorithm(alg)) throw unauthenticated("algorithm not allowed", "algorithm");
  return { alg, kid };
}

function canonicalSegment(s: string): boolean {
  if (s.length === 0 || !SEGMENT.test(s)) return false;
  const rem = s.length % 4;
  if (rem === 0) return true;
  if (rem === 1) return false;
  const last = B64.indexOf(s[s.length - 1]!);
  return (last & (rem === 2 ? 0x0f : 0x03)) === 0;
}
