/**
 * ION's JWT claims (`pkg/auth/claims.go`) and their shape check. ION unmarshals them into typed Go
 * fields, so a wrongly typed ION claim fails there; it fails here too (UNAUTHENTICATED).
 */
import { unauthenticated } from "./auth-errors.js";

/** The claims of a verified token: ION's fields, the registered claims, and anything else the issuer put in. */
export interface IonClaims {
  readonly uid?: string;
  readonly sid?: string;
  readonly publish?: boolean;
  /** Spelled `subscribe` in JSON (the Go field is `Subcribe`). */
  readonly subscribe?: boolean;
  /** Packages (or full service names) the token may call; see `servicesAllow`. */
  readonly services?: readonly string[];
  readonly iss?: string;
  readonly sub?: string;
  readonly aud?: string | readonly string[];
  readonly exp?: number;
  readonly nbf?: number;
  readonly iat?: number;
  readonly jti?: string;
  readonly [claim: string]: unknown;
}

const STRINGS = ["uid", "sid", "iss", "sub", "jti"] as const;
const BOOLS = ["publish", "subscribe"] as const;

/**
 * Checks the types of the known claims of a verified payload and returns a deep-frozen copy
 * (it is shared by every call that presents the same token). JSON `null` counts as absent, as in Go.
 */
export function toIonClaims(payload: Record<string, unknown>): IonClaims {
  const c: Record<string, unknown> = { ...payload };
  for (const k of [...STRINGS, ...BOOLS, "services", "aud"]) if (c[k] === null) delete c[k];
  for (const k of STRINGS) if (c[k] !== undefined && typeof c[k] !== "string") throw bad(`${k} must be a string`);
  for (const k of BOOLS) if (c[k] !== undefined && typeof c[k] !== "boolean") throw bad(`${k} must be a boolean`);
  if (c["services"] !== undefined && !isStringArray(c["services"])) throw bad("services must be a list of strings");
  if (c["aud"] !== undefined && typeof c["aud"] !== "string" && !isStringArray(c["aud"])) {
    throw bad("aud must be a string or a list of strings");
  }
  return deepFreeze(c) as IonClaims;
}

function bad(what: string) {
  return unauthenticated(`malformed claims: ${what}`, "malformed");
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === "string");
}

function deepFreeze<T>(v: T): T {
  if (typeof v === "object" && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}
