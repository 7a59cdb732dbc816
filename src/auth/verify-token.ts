/**
 * Verifies one compact JWT against the configured keys and JWKS with jose, and turns every failure
 * into a ConnectError that says which check failed (never how the key or token looks).
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { createRemoteJWKSet, customFetch, jwtVerify } from "jose";
import type { JWTVerifyGetKey, JWTVerifyOptions, JWTVerifyResult } from "jose";
import type { AuthConfig } from "./auth-config.js";
import { unauthenticated } from "./auth-errors.js";
import { toIonClaims } from "./ion-claims.js";
import type { IonClaims } from "./ion-claims.js";
import { createKeyRing } from "./key-ring.js";
import { parseTokenHeader } from "./token-syntax.js";

/** A token that passed every check. */
export interface VerifiedToken {
  readonly claims: IonClaims;
}

/** Verifies tokens for one config. */
export interface TokenVerifier {
  /** Throws a ConnectError (UNAUTHENTICATED, or UNAVAILABLE/INTERNAL for key trouble on our side). */
  verify(token: string): Promise<VerifiedToken>;
  /** Imports every configured key; rejects with a config error naming the broken one. */
  ready(): Promise<void>;
}

/** Options for {@link createTokenVerifier}. */
export interface TokenVerifierOptions {
  /** fetch used for the JWKS (default: global fetch). */
  fetch?: typeof fetch;
  /** Clock in ms since the epoch (default Date.now). */
  now?: () => number;
  /** Called once per signature check actually performed (metrics, tests). */
  onSignatureCheck?: () => void;
}

/** Thrown by our JWKS key resolver when the key set itself cannot be had. */
class KeySetUnavailable extends Error {}

/** Creates a verifier for `config`. No network or crypto work happens until the first token. */
export function createTokenVerifier(config: AuthConfig, opts: TokenVerifierOptions = {}): TokenVerifier {
  const ring = createKeyRing(config);
  const now = opts.now ?? Date.now;
  const counted = opts.onSignatureCheck ?? (() => {});
  const skew = config.clockSkewS;
  let jwks: JWTVerifyGetKey | undefined;
  if (config.jwks) {
    const remote = createRemoteJWKSet(new URL(config.jwks.url), {
      cacheMaxAge: config.jwks.cacheMaxAgeS * 1000,
      cooldownDuration: config.jwks.cooldownS * 1000,
      timeoutDuration: config.jwks.timeoutMs,
      ...(opts.fetch ? { [customFetch]: opts.fetch } : {}),
    });
    jwks = async (header, token) => {
      try {
        return await remote(header, token);
      } catch (e) {
        const code = (e as { code?: unknown } | null)?.code;
        if (code === "ERR_JWKS_NO_MATCHING_KEY" || code === "ERR_JWKS_MULTIPLE_MATCHING_KEYS") throw e;
        throw new KeySetUnavailable();
      }
    };
  }

  async function verify(token: string): Promise<VerifiedToken> {
    const { alg, kid } = parseTokenHeader(token, config.maxTokenBytes);
    const sel = ring.select(alg, kid);
    if (!sel.ok) throw unauthenticated(sel.reason, sel.label);
    const options: JWTVerifyOptions = {
      algorithms: [alg],
      clockTolerance: skew,
      currentDate: new Date(now()),
    };
    if (config.issuer) options.issuer = config.issuer.slice();
    if (config.audience) options.audience = config.audience.slice();
    if (config.requireExp) options.requiredClaims = ["exp"];

    let result: JWTVerifyResult | undefined;
    for (const key of sel.keys) {
      let cryptoKey: CryptoKey;
      try {
        cryptoKey = await key.keyFor(alg);
      } catch {
        throw new ConnectError("verification key unusable", Code.Internal);
      }
      result = await attempt(token, cryptoKey, options);
      if (result) break;
    }
    if (!result && sel.jwks && jwks) result = await viaJwks(token, jwks, options, kid, sel.keys.length > 0);
    if (!result) throw unauthenticated("invalid signature", "signature");

    const iat = result.payload.iat;
    if (typeof iat === "number" && iat > Math.floor(now() / 1000) + skew) {
      throw unauthenticated("token issued in the future", "invalid");
    }
    return { claims: toIonClaims(result.payload as Record<string, unknown>) };
  }

  /** One signature check; undefined when the signature does not match this key. */
  async function attempt(token: string, key: CryptoKey, options: JWTVerifyOptions): Promise<JWTVerifyResult | undefined> {
    counted();
    try {
      return await jwtVerify(token, key, options);
    } catch (e) {
      if (codeOf(e) === "ERR_JWS_SIGNATURE_VERIFICATION_FAILED") return undefined;
      throw toConnectError(e);
    }
  }

  async function viaJwks(
    token: string,
    getKey: JWTVerifyGetKey,
    options: JWTVerifyOptions,
    kid: string | undefined,
    triedStatic: boolean,
  ): Promise<JWTVerifyResult | undefined> {
    try {
      counted();
      return await jwtVerify(token, getKey, options);
    } catch (e) {
      if (e instanceof KeySetUnavailable) throw new ConnectError("key set unavailable", Code.Unavailable);
      const code = codeOf(e);
      if (code === "ERR_JWKS_NO_MATCHING_KEY") {
        throw kid !== undefined ? unauthenticated("unknown key id", "invalid") : triedStatic ? unauthenticated("invalid signature", "signature") : unauthenticated("no matching key", "invalid");
      }
      if (code === "ERR_JWKS_MULTIPLE_MATCHING_KEYS" && Symbol.asyncIterator in (e as object)) {
        for await (const key of e as AsyncIterable<CryptoKey>) {
          const r = await attempt(token, key, options);
          if (r) return r;
        }
        return undefined;
      }
      if (code === "ERR_JWS_SIGNATURE_VERIFICATION_FAILED") return undefined;
      throw toConnectError(e);
    }
  }

  return {
    verify: (token) => verify(token).catch((e: unknown) => {
      throw e instanceof ConnectError ? e : unauthenticated("invalid token", "invalid");
    }),
    ready: () => ring.importAll(),
  };
}

function codeOf(e: unknown): unknown {
  return typeof e === "object" && e !== null ? (e as { code?: unknown }).code : undefined;
}

/** Maps a jose error to the client-facing reason. */
function toConnectError(e: unknown): ConnectError {
  if (e instanceof ConnectError) return e;
  switch (codeOf(e)) {
    case "ERR_JWT_EXPIRED":
      return unauthenticated("token expired", "expired");
    case "ERR_JWT_CLAIM_VALIDATION_FAILED": {
      const { claim, reason } = e as { claim?: unknown; reason?: unknown };
      if (reason === "missing") {
        if (claim === "iss") return unauthenticated("token has no issuer", "issuer");
        if (claim === "aud") return unauthenticated("token has no audience", "audience");
        return unauthenticated(claim === "exp" ? "token has no exp" : "token lacks a required claim", "invalid");
      }
      if (reason === "invalid" && (claim === "exp" || claim === "nbf" || claim === "iat")) {
        return unauthenticated(`malformed claims: ${claim} must be a number`, "malformed");
      }
      if (claim === "nbf") return unauthenticated("token not yet valid", "not_yet_valid");
      if (claim === "iss") return unauthenticated("issuer not accepted", "issuer");
      if (claim === "aud") return unauthenticated("audience not accepted", "audience");
      return unauthenticated("invalid claims", "invalid");
    }
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
      return unauthenticated("invalid signature", "signature");
    case "ERR_JOSE_ALG_NOT_ALLOWED":
      return unauthenticated("algorithm not allowed", "algorithm");
    case "ERR_JOSE_NOT_SUPPORTED": // algorithms are screened before jose; what is left is an unknown `crit` extension
      return unauthenticated("unsupported token header", "invalid");
    case "ERR_JWS_INVALID":
    case "ERR_JWT_INVALID":
      return unauthenticated("malformed token", "malformed");
    default:
      return unauthenticated("invalid token", "invalid");
  }
}
