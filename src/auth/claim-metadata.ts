/**
 * Claims forwarded to the backend as metadata, and removal of client-sent copies of those keys.
 * Values are percent-encoded the way gRPC encodes `grpc-message`: bytes outside printable ASCII
 * and `%` itself become `%XX` (UTF-8), so a claim can never inject a header line.
 */
import type { ForwardClaim } from "./auth-config.js";
import type { IonClaims } from "./ion-claims.js";
import type { Metadata } from "../core/metadata.js";

const SAFE = /^[\x20-\x24\x26-\x7e]*$/;
const utf8 = new TextEncoder();

/** Percent-encodes a metadata value: printable ASCII except `%` stays, everything else is `%XX` of its UTF-8 bytes. */
export function encodeMetadataValue(v: string): string {
  if (SAFE.test(v)) return v;
  let out = "";
  for (const b of utf8.encode(v)) {
    out += b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : "%" + b.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

function values(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (typeof v === "string") return [encodeMetadataValue(v)];
  if (typeof v === "number" || typeof v === "boolean") return [String(v)];
  if (Array.isArray(v)) return v.flatMap((x) => (Array.isArray(x) ? [encodeMetadataValue(JSON.stringify(x))] : values(x)));
  return [encodeMetadataValue(JSON.stringify(v))];
}

/** The `[key, values]` pairs to add to the backend call for these claims (absent claims are skipped). */
export function claimMetadataEntries(claims: IonClaims, forward: readonly ForwardClaim[]): ReadonlyArray<readonly [string, readonly string[]]> {
  const out: Array<readonly [string, readonly string[]]> = [];
  for (const { claim, header } of forward) {
    const v = values(Object.hasOwn(claims, claim) ? claims[claim] : undefined);
    if (v.length > 0) out.push([header, Object.freeze(v)]);
  }
  return Object.freeze(out);
}

/** A copy of `md` without the given keys (the claim headers a client must not be able to forge). */
export function withoutClaimHeaders(md: Metadata, names: readonly string[]): Metadata {
  const out: Metadata = new Map();
  for (const [k, v] of md) if (!names.includes(k)) out.set(k, v.slice());
  return out;
}
