/**
 * Finds the token of a call: the `authorization` metadata as ION sends it (the raw compact JWT) or as
 * `Bearer <jwt>` (scheme case-insensitive); else, when enabled, the `token` query parameter of a
 * WebSocket URL. The header wins over the query parameter.
 */
import { unauthenticated } from "./auth-errors.js";
import type { Metadata } from "../core/metadata.js";

const BEARER = /^bearer[ \t]+/i;

/**
 * The token, or undefined when the call carries none. Throws UNAUTHENTICATED for an
 * `authorization` that cannot be a token (two values, another scheme, `Bearer` with nothing).
 */
export function extractToken(md: Metadata, queryToken: string | undefined, allowQueryToken: boolean): string | undefined {
  const values = md.get("authorization");
  if (values !== undefined && values.length > 0) {
    if (values.length > 1) throw unauthenticated("multiple authorization values", "invalid");
    const v = values[0]!.trim();
    if (BEARER.test(v)) {
      const t = v.replace(BEARER, "");
      if (t === "") throw unauthenticated("missing token", "missing");
      return t;
    }
    if (/^bearer$/i.test(v)) throw unauthenticated("missing token", "missing");
    if (v === "") return allowQueryToken && queryToken ? queryToken : undefined;
    if (/[ \t]/.test(v)) throw unauthenticated("unsupported authorization scheme", "invalid");
    return v;
  }
  return allowQueryToken && queryToken ? queryToken : undefined;
}
