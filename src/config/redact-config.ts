/**
 * A Config as it may be shown (`edge-signal check`): HMAC secrets (`key`, `keys[].hmac`, a JWK's `k`),
 * the metrics token and a password in the NATS URL replaced by "[redacted]". Public keys stay. Runtime-neutral.
 */
import type { Config } from "./config.js";

const REDACTED = "[redacted]";

/** Hides the password of `scheme://user:password@host` URLs (comma-separated lists too). */
function redactUrl(url: string): string {
  return url.replace(/(\/\/[^:/@,]*:)[^@/,]*@/g, `$1${REDACTED}@`);
}

/** A deep copy of `cfg` with its secrets redacted. */
export function redactConfig(cfg: Config): Record<string, unknown> {
  const copy = JSON.parse(JSON.stringify(cfg)) as Record<string, unknown> & { auth: Record<string, unknown> };
  copy.natsUrl = redactUrl(cfg.natsUrl);
  if (cfg.metricsToken) copy.metricsToken = REDACTED;
  const auth = copy.auth;
  if (typeof auth.key === "string" && auth.key !== "" && !/^-----BEGIN /.test(auth.key.trim())) auth.key = REDACTED;
  if (Array.isArray(auth.keys)) {
    for (const k of auth.keys as Record<string, unknown>[]) {
      if (typeof k !== "object" || k === null) continue;
      if (k.hmac !== undefined) k.hmac = REDACTED;
      const jwk = k.jwk as Record<string, unknown> | undefined;
      if (jwk && typeof jwk === "object" && jwk.k !== undefined) jwk.k = REDACTED;
    }
  }
  return copy;
}
