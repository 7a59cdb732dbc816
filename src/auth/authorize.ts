/**
 * Authorization of one call by a verified token: ION's `services` claim, then the per-method rules.
 *
 * ION allows a call when some `s` in `services` makes `"/" + s + "."` occur anywhere in the path.
 * edge-signal instead requires the service's full name to start with `s + "."` (a package prefix at
 * a dot boundary) or to equal `s` (so `room.RoomSignal` grants that one service). For every
 * well-formed path (`/pkg.Service/Method`, no dot in the method) the prefix rule gives exactly ION's
 * answer; the only difference is that ION never grants a service by its full name.
 */
import type { AuthConfig, AuthRule, ClaimScalar } from "./auth-config.js";
import { permissionDenied } from "./auth-errors.js";
import type { IonClaims } from "./ion-claims.js";

/** Whether a `services` claim grants the protobuf service `service` (e.g. `rtc.RTC`). */
export function servicesAllow(services: readonly string[], service: string): boolean {
  for (const s of services) {
    if (s.length === 0) continue;
    if (service.length > s.length ? service.startsWith(s) && service.charCodeAt(s.length) === 0x2e : service === s) return true;
  }
  return false;
}

/** Whether a rule's method pattern matches a path. */
export function ruleMatches(pattern: string, path: string): boolean {
  if (pattern === "*") return true;
  if (pattern.endsWith("*")) return path.startsWith(pattern.slice(0, -1));
  return path === pattern;
}

/** What applies to one path. */
export interface MethodPolicy {
  /** A matching rule is `public`: no token needed, no claim checks. */
  readonly isPublic: boolean;
  /** The matching rules that require claims. */
  readonly rules: readonly AuthRule[];
}

const OPEN: MethodPolicy = { isPublic: true, rules: [] };
const NO_RULES: MethodPolicy = { isPublic: false, rules: [] };

/** Decides which rules apply to a path. */
export function methodPolicy(config: AuthConfig, path: string): MethodPolicy {
  if (config.rules.length === 0) return NO_RULES;
  let rules: AuthRule[] | undefined;
  for (const r of config.rules) {
    if (!ruleMatches(r.method, path)) continue;
    if (r.public) return OPEN;
    (rules ??= []).push(r);
  }
  return rules ? { isPublic: false, rules } : NO_RULES;
}

/** Throws PERMISSION_DENIED unless the claims grant the call. */
export function authorize(config: AuthConfig, claims: IonClaims, service: string, policy: MethodPolicy): void {
  const services = claims.services;
  if (services === undefined) {
    if (config.requireServicesClaim) throw permissionDenied("token has no services claim");
  } else if (!servicesAllow(services, service)) {
    throw permissionDenied("service not allowed by token");
  }
  for (const rule of policy.rules) {
    for (const [claim, accepted] of rule.require) {
      const actual = Object.hasOwn(claims, claim) ? claims[claim] : undefined;
      if (!accepted.some((v) => claimHas(actual, v))) throw permissionDenied(`method requires claim ${claim}`);
    }
  }
}

function claimHas(actual: unknown, want: ClaimScalar): boolean {
  return actual === want || (Array.isArray(actual) && actual.includes(want));
}
