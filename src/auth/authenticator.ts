/**
 * The Authenticator the Director calls before anything touches NATS: finds the token, verifies it
 * (once per token string, thanks to the cache and in-flight sharing), authorizes the call, and
 * returns the claim metadata to forward.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { AuthConfig } from "./auth-config.js";
import { unauthenticated } from "./auth-errors.js";
import { authorize, methodPolicy } from "./authorize.js";
import { claimMetadataEntries } from "./claim-metadata.js";
import { extractToken } from "./extract-token.js";
import type { IonClaims } from "./ion-claims.js";
import { TokenCache } from "./token-cache.js";
import { createTokenVerifier } from "./verify-token.js";
import type { Metadata } from "../core/metadata.js";

/** What the Director knows about a call when it asks. */
export interface AuthRequest {
  /** Request metadata (lower-case keys). */
  metadata: Metadata;
  /** Protobuf full service name, e.g. "rtc.RTC". */
  service: string;
  /** Method name, e.g. "Signal". */
  method: string;
  /** "/rtc.RTC/Signal"; must equal `/${service}/${method}` (else INVALID_ARGUMENT). */
  path: string;
  /** `token` query parameter of a WebSocket URL; used only with `allow_query_token`. */
  queryToken?: string;
}

/** The outcome of a successful {@link Authenticator.authenticate}. */
export interface AuthResult {
  /** The verified claims; undefined when auth is disabled or a public method was called without a token. */
  claims: IonClaims | undefined;
  /** Metadata to add to the backend call (e.g. x-ion-uid, x-ion-sid), after stripping forged ones. A fresh Map. */
  forward: Metadata;
}

/** Counters, for metrics and tests. */
export interface AuthStats {
  /** Signature checks performed (a token tried against two keys counts two). */
  readonly signatureChecks: number;
  /** Calls answered from the verified-token cache (or by sharing an in-flight verification). */
  readonly cacheHits: number;
  /** Calls rejected (UNAUTHENTICATED or PERMISSION_DENIED). */
  readonly rejected: number;
}

/** Authentication and authorization at the edge. */
export interface Authenticator {
  readonly enabled: boolean;
  /** Throws a ConnectError: UNAUTHENTICATED, PERMISSION_DENIED, or UNAVAILABLE/INTERNAL for key trouble on our side. */
  authenticate(req: AuthRequest): Promise<AuthResult>;
  /** Metadata keys that carry forwarded claims; strip them from client metadata (forgery protection), even when auth is disabled. */
  readonly claimHeaderNames: readonly string[];
  /** Imports every configured key now; rejects naming a broken key. Call at startup to fail fast. */
  ready(): Promise<void>;
  /** Counters since creation. */
  readonly stats: AuthStats;
  /** Forgets every cached verification (e.g. after rotating away a compromised key). */
  clearCache(): void;
}

/** Options for {@link createAuthenticator}. */
export interface AuthenticatorOptions {
  /** fetch used for the JWKS (default: global fetch). */
  fetch?: typeof fetch;
  /** Clock in ms since the epoch (default Date.now). */
  now?: () => number;
}

interface CachedToken {
  readonly claims: IonClaims;
  readonly forward: ReadonlyArray<readonly [string, readonly string[]]>;
}

/** Creates the authenticator for a config from {@link parseAuthConfig}. Sync; crypto and network wait for the first call. */
export function createAuthenticator(config: AuthConfig, opts: AuthenticatorOptions = {}): Authenticator {
  const claimHeaderNames = Object.freeze(config.forwardClaims.map((f) => f.header));
  const stats = { signatureChecks: 0, cacheHits: 0, rejected: 0 };
  if (!config.enabled) {
    return {
      enabled: false,
      claimHeaderNames,
      authenticate: () => Promise.resolve({ claims: undefined, forward: new Map() }),
      ready: () => Promise.resolve(),
      stats,
      clearCache() {},
    };
  }

  const now = opts.now ?? Date.now;
  const verifierOptions: Parameters<typeof createTokenVerifier>[1] = { now, onSignatureCheck: () => void stats.signatureChecks++ };
  if (opts.fetch) verifierOptions.fetch = opts.fetch;
  const verifier = createTokenVerifier(config, verifierOptions);
  const cache = new TokenCache<CachedToken>(config.cacheSize);
  const inFlight = new Map<string, Promise<CachedToken>>();
  const ttlMs = config.cacheTtlS * 1000;
  const skewMs = config.clockSkewS * 1000;

  function verified(token: string): Promise<CachedToken> {
    const t = now();
    const hit = cache.get(token, t);
    if (hit) {
      stats.cacheHits++;
      return Promise.resolve(hit);
    }
    const pending = inFlight.get(token);
    if (pending) {
      stats.cacheHits++;
      return pending;
    }
    const p = verifier.verify(token).then(
      ({ claims }) => {
        inFlight.delete(token);
        const entry: CachedToken = { claims, forward: claimMetadataEntries(claims, config.forwardClaims) };
        const at = now();
        const expiresAt = Math.min(at + ttlMs, claims.exp !== undefined ? claims.exp * 1000 + skewMs : Infinity);
        if (expiresAt > at) cache.set(token, entry, expiresAt);
        return entry;
      },
      (e: unknown) => {
        inFlight.delete(token);
        throw e;
      },
    );
    inFlight.set(token, p);
    return p;
  }

  async function authenticate(req: AuthRequest): Promise<AuthResult> {
    if (req.path !== `/${req.service}/${req.method}`) {
      throw new ConnectError("path does not match service and method", Code.InvalidArgument);
    }
    const policy = methodPolicy(config, req.path);
    const token = extractToken(req.metadata, req.queryToken, config.allowQueryToken);
    if (token === undefined) {
      if (policy.isPublic) return { claims: undefined, forward: new Map() };
      throw unauthenticated("missing token", "missing");
    }
    const entry = await verified(token);
    if (!policy.isPublic) authorize(config, entry.claims, req.service, policy);
    const forward: Metadata = new Map();
    for (const [k, v] of entry.forward) forward.set(k, v.slice());
    return { claims: entry.claims, forward };
  }

  return {
    enabled: true,
    claimHeaderNames,
    authenticate: (req) => authenticate(req).catch((e: unknown) => {
      stats.rejected++;
      throw e instanceof ConnectError ? e : unauthenticated("invalid token", "invalid");
    }),
    ready: () => verifier.ready(),
    stats,
    clearCache: () => cache.clear(),
  };
}
