/**
 * Auth configuration: ION's `[signal.jwt]` table plus edge-signal's own fields, validated into one
 * immutable {@link AuthConfig}. Every default lives here.
 *
 * ```toml
 * [signal.jwt]                     # ION shape, works unchanged
 * enabled = true
 * key_type = "HMAC"                # HMAC (default): `key` is the shared secret, UTF-8 bytes as in Go.
 * key = "secret"                   # PEM | RSA | ECDSA | ED25519: `key` is a PEM public key instead.
 *
 * # edge-signal fields (all optional)
 * keys = [ { kid = "k1", alg = ["RS256"], pem = "-----BEGIN PUBLIC KEY-----..." },
 *          { kid = "k2", jwk = { kty = "OKP", crv = "Ed25519", x = "..." } },
 *          { hmac = "another secret", alg = ["HS256"] } ]
 * # pem: "PUBLIC KEY" (SPKI) or "CERTIFICATE" (only its key is used: validity and chain are not checked).
 * # A token with a `kid` must match a configured kid (or the JWKS); without one, every key whose alg
 * # list holds the token's alg is tried.
 * jwks_url = "https://idp.example/.well-known/jwks.json"
 * jwks_alg = ["RS256", "ES256"]    # default: every RS/PS/ES/EdDSA algorithm, never HS
 * jwks_cache_max_age_s = 600       # refetch the JWKS at least this often
 * jwks_cooldown_s = 30             # an unknown kid refetches at most this often
 * jwks_timeout_ms = 5000
 * issuer = "https://idp.example"   # string or list; when set, `iss` is required
 * audience = "edge-signal"         # string or list; when set, `aud` is required
 * clock_skew_s = 30                # leeway for exp / nbf / iat
 * require_exp = false              # ION accepts tokens without exp; set true to refuse them
 * max_token_bytes = 8192
 * allow_query_token = false        # accept `?token=` on WebSocket URLs
 * require_services_claim = true    # a token without `services` may call nothing (as ION)
 * forward_claims = { uid = "x-ion-uid", sid = "x-ion-sid" }   # claim -> metadata key
 * room_claim = "sid"              # a token holds to the room in this claim: a call whose request
 *                                  # names another room is PERMISSION_DENIED ("" = no check, as ION)
 * cache_size = 10000               # verified tokens kept (0 = no cache)
 * cache_ttl_s = 300                # a verified token is re-verified at least this often
 * rules = [ { method = "/room.RoomService/*", require = { role = "admin" } },
 *           { method = "/grpc.health.v1.Health/*", public = true } ]
 * ```
 */
import type { JWK } from "jose";
import { ALGORITHMS_BY_KIND, DEFAULT_JWKS_ALGORITHMS, describeKind, isJwsAlgorithm } from "./algorithms.js";
import type { JwsAlgorithm, KeyKind } from "./algorithms.js";
import { didYouMean } from "../config/did-you-mean.js";
import { pemKeyInfo } from "./pem-key-kind.js";

/** Where the bytes of a verification key come from. */
export type AuthKeySource =
  | { readonly type: "hmac"; readonly secret: Uint8Array<ArrayBuffer> }
  | { readonly type: "spki" | "x509"; readonly pem: string }
  | { readonly type: "jwk"; readonly jwk: JWK };

/** One configured verification key. */
export interface AuthKey {
  /** Matched against the token's `kid` header. A token with a `kid` only ever uses keys with that kid. */
  readonly kid: string | undefined;
  readonly kind: KeyKind;
  /** The explicit allow-list for this key (defaults per kind, see {@link ALGORITHMS_BY_KIND}). */
  readonly algorithms: readonly JwsAlgorithm[];
  readonly source: AuthKeySource;
  /** Where it was configured, e.g. `signal.jwt.keys[1]`, for messages. */
  readonly at: string;
}

/** A remote JSON Web Key Set. */
export interface AuthJwksConfig {
  readonly url: string;
  readonly algorithms: readonly JwsAlgorithm[];
  readonly cacheMaxAgeS: number;
  readonly cooldownS: number;
  readonly timeoutMs: number;
}

/** A value a rule compares a claim with. */
export type ClaimScalar = string | number | boolean;

/** A per-method rule. Every rule whose pattern matches a call applies. */
export interface AuthRule {
  /** `*`, an exact path `/pkg.Svc/Method`, or a prefix ending in `*` (`/room.RoomService/*`, `/room.*`). */
  readonly method: string;
  /** No token needed (a token that is sent must still be valid); the `services` claim is not checked. */
  readonly public: boolean;
  /**
   * Claim name → accepted values. A claim matches a value when it equals it, or is an array holding
   * it. Every listed claim must match one of its values.
   */
  readonly require: ReadonlyMap<string, readonly ClaimScalar[]>;
}

/** A claim copied into the backend call's metadata. */
export interface ForwardClaim {
  readonly claim: string;
  readonly header: string;
}

/** The validated auth configuration. Build it with {@link parseAuthConfig}. */
export interface AuthConfig {
  readonly enabled: boolean;
  readonly keys: readonly AuthKey[];
  readonly jwks: AuthJwksConfig | undefined;
  readonly issuer: readonly string[] | undefined;
  readonly audience: readonly string[] | undefined;
  readonly clockSkewS: number;
  readonly requireExp: boolean;
  readonly maxTokenBytes: number;
  readonly allowQueryToken: boolean;
  readonly requireServicesClaim: boolean;
  readonly forwardClaims: readonly ForwardClaim[];
  /**
   * The claim naming the room a token is for (ION: `sid`); a call whose request message names another
   * room (the balancer's message key, e.g. `join.sid`) is refused. "" = no check.
   */
  readonly roomClaim: string;
  readonly rules: readonly AuthRule[];
  readonly cacheSize: number;
  readonly cacheTtlS: number;
}

/** Defaults, in one place. */
export const AUTH_DEFAULTS = {
  /** 30 s: generous for NTP-synced hosts, small next to typical token lifetimes (minutes to hours). */
  clockSkewS: 30,
  maxTokenBytes: 8192,
  cacheSize: 10_000,
  cacheTtlS: 300,
  jwksCacheMaxAgeS: 600,
  jwksCooldownS: 30,
  jwksTimeoutMs: 5000,
  forwardClaims: [
    { claim: "uid", header: "x-ion-uid" },
    { claim: "sid", header: "x-ion-sid" },
  ] as readonly ForwardClaim[],
  roomClaim: "sid",
} as const;

/** The keys of `[signal.jwt]` / `[edge.auth]` (the config schema checks the TOML against them). */
export const AUTH_FIELDS: ReadonlySet<string> = new Set([
  "enabled", "key_type", "key", "keys", "jwks_url", "jwks_alg", "jwks_cache_max_age_s", "jwks_cooldown_s",
  "jwks_timeout_ms", "issuer", "audience", "clock_skew_s", "require_exp", "max_token_bytes", "allow_query_token",
  "require_services_claim", "forward_claims", "room_claim", "rules", "cache_size", "cache_ttl_s",
]);
const KEY_FIELDS = new Set(["kid", "alg", "hmac", "pem", "jwk"]);
const RULE_FIELDS = new Set(["method", "require", "public"]);
const KEY_TYPES: Readonly<Record<string, readonly KeyKind[] | "hmac">> = {
  HMAC: "hmac",
  PEM: ["rsa", "ec-p256", "ec-p384", "ec-p521", "ed25519"],
  RSA: ["rsa"],
  ECDSA: ["ec-p256", "ec-p384", "ec-p521"],
  EC: ["ec-p256", "ec-p384", "ec-p521"],
  ED25519: ["ed25519"],
  EDDSA: ["ed25519"],
};
const RESERVED_HEADERS = new Set([
  "authorization", "content-type", "content-length", "te", "host", "connection", "transfer-encoding", "upgrade",
  "keep-alive", "cookie", "user-agent", "x-grpc-web", "connect-protocol-version", "connect-timeout-ms",
]);

/**
 * Validates raw configuration (the parsed `[signal.jwt]` table, or an equivalent object) into an
 * {@link AuthConfig}. `undefined`/`null` means "no table": auth disabled. Throws an Error naming the
 * offending field for anything unknown or invalid; messages never contain key material.
 * @param at the config path to use in messages
 */
export function parseAuthConfig(raw: unknown, at = "signal.jwt"): AuthConfig {
  if (raw === undefined || raw === null) raw = {};
  const t = table(raw, at);
  for (const k of Object.keys(t)) if (!AUTH_FIELDS.has(k)) throw new Error(`${at}: unknown field "${k}"${didYouMean(k, AUTH_FIELDS)}`);

  const enabled = optBool(t, "enabled", at) ?? false;
  const keys: AuthKey[] = [];

  const keyType = optString(t, "key_type", at);
  const keyTypeKinds = keyType === undefined ? "hmac" : KEY_TYPES[keyType.toUpperCase()];
  if (keyTypeKinds === undefined) {
    throw new Error(`${at}.key_type: "${keyType}" is not one of ${Object.keys(KEY_TYPES).join(", ")}`);
  }
  const ionKey = optString(t, "key", at);
  // ION's sample config ships with enabled = false and a placeholder key; only load keys when enabled.
  if (ionKey !== undefined && (enabled || ionKey !== "")) {
    if (keyTypeKinds === "hmac") {
      keys.push(hmacKey(ionKey, undefined, undefined, `${at}.key`));
    } else {
      const k = pemKey(ionKey, undefined, undefined, `${at}.key`);
      if (!keyTypeKinds.includes(k.kind)) {
        throw new Error(`${at}.key: key_type "${keyType}" does not match the PEM, which holds ${describeKind(k.kind)}`);
      }
      keys.push(k);
    }
  }
  if (t["keys"] !== undefined) {
    const list = array(t["keys"], `${at}.keys`);
    list.forEach((entry, i) => keys.push(parseKey(entry, `${at}.keys[${i}]`)));
  }
  const kids = new Set<string>();
  for (const k of keys) {
    if (k.kid === undefined) continue;
    if (kids.has(k.kid)) throw new Error(`${k.at}: kid "${k.kid}" is configured twice`);
    kids.add(k.kid);
  }

  let jwks: AuthJwksConfig | undefined;
  const jwksUrl = optString(t, "jwks_url", at);
  if (jwksUrl !== undefined) {
    let url: URL;
    try {
      url = new URL(jwksUrl);
    } catch {
      throw new Error(`${at}.jwks_url: not a URL`);
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error(`${at}.jwks_url: must be http(s)`);
    const algs = t["jwks_alg"] === undefined ? DEFAULT_JWKS_ALGORITHMS : algList(t["jwks_alg"], `${at}.jwks_alg`);
    for (const a of algs) {
      if (a.startsWith("HS")) throw new Error(`${at}.jwks_alg: ${a} is an HMAC algorithm; a JWKS only serves public keys`);
    }
    jwks = {
      url: url.href,
      algorithms: algs,
      cacheMaxAgeS: optNumber(t, "jwks_cache_max_age_s", at, { min: 0 }) ?? AUTH_DEFAULTS.jwksCacheMaxAgeS,
      cooldownS: optNumber(t, "jwks_cooldown_s", at, { min: 0 }) ?? AUTH_DEFAULTS.jwksCooldownS,
      timeoutMs: optNumber(t, "jwks_timeout_ms", at, { min: 1, integer: true }) ?? AUTH_DEFAULTS.jwksTimeoutMs,
    };
  } else {
    for (const f of ["jwks_alg", "jwks_cache_max_age_s", "jwks_cooldown_s", "jwks_timeout_ms"]) {
      if (t[f] !== undefined) throw new Error(`${at}.${f}: set without jwks_url`);
    }
  }

  if (enabled && keys.length === 0 && !jwks) {
    throw new Error(`${at}: enabled = true but no key is configured (set key, keys or jwks_url)`);
  }

  const forwardClaims = t["forward_claims"] === undefined
    ? AUTH_DEFAULTS.forwardClaims
    : parseForwardClaims(t["forward_claims"], `${at}.forward_claims`);
  const rules = t["rules"] === undefined
    ? []
    : array(t["rules"], `${at}.rules`).map((r, i) => parseRule(r, `${at}.rules[${i}]`));

  return Object.freeze({
    enabled,
    keys: Object.freeze(keys),
    jwks,
    issuer: optStringList(t, "issuer", at),
    audience: optStringList(t, "audience", at),
    clockSkewS: optNumber(t, "clock_skew_s", at, { min: 0, max: 86_400 }) ?? AUTH_DEFAULTS.clockSkewS,
    requireExp: optBool(t, "require_exp", at) ?? false,
    maxTokenBytes: optNumber(t, "max_token_bytes", at, { min: 64, max: 1 << 20, integer: true }) ?? AUTH_DEFAULTS.maxTokenBytes,
    allowQueryToken: optBool(t, "allow_query_token", at) ?? false,
    requireServicesClaim: optBool(t, "require_services_claim", at) ?? true,
    forwardClaims,
    roomClaim: optString(t, "room_claim", at) ?? AUTH_DEFAULTS.roomClaim,
    rules: Object.freeze(rules),
    cacheSize: optNumber(t, "cache_size", at, { min: 0, max: 10_000_000, integer: true }) ?? AUTH_DEFAULTS.cacheSize,
    cacheTtlS: optNumber(t, "cache_ttl_s", at, { min: 0 }) ?? AUTH_DEFAULTS.cacheTtlS,
  });
}

function parseKey(raw: unknown, at: string): AuthKey {
  const t = table(raw, at);
  for (const k of Object.keys(t)) if (!KEY_FIELDS.has(k)) throw new Error(`${at}: unknown field "${k}"${didYouMean(k, KEY_FIELDS)}`);
  const kid = optString(t, "kid", at);
  if (kid === "") throw new Error(`${at}.kid: must not be empty`);
  const alg = t["alg"] === undefined ? undefined : algList(t["alg"], `${at}.alg`);
  const given = ["hmac", "pem", "jwk"].filter((f) => t[f] !== undefined);
  if (given.length !== 1) throw new Error(`${at}: set exactly one of hmac, pem, jwk`);
  if (t["hmac"] !== undefined) return hmacKey(string(t["hmac"], `${at}.hmac`), kid, alg, `${at}.hmac`);
  if (t["pem"] !== undefined) return pemKey(string(t["pem"], `${at}.pem`), kid, alg, `${at}.pem`);
  return jwkKey(table(t["jwk"], `${at}.jwk`), kid, alg, `${at}.jwk`);
}

function hmacKey(secret: string, kid: string | undefined, alg: readonly JwsAlgorithm[] | undefined, at: string): AuthKey {
  if (secret === "") throw new Error(`${at}: the HMAC key must not be empty`);
  return {
    kid,
    kind: "hmac",
    algorithms: checkAlgs("hmac", alg, at),
    source: { type: "hmac", secret: new TextEncoder().encode(secret) },
    at,
  };
}

function pemKey(pem: string, kid: string | undefined, alg: readonly JwsAlgorithm[] | undefined, at: string): AuthKey {
  let info;
  try {
    info = pemKeyInfo(pem);
  } catch (e) {
    throw new Error(`${at}: ${(e as Error).message}`);
  }
  return { kid, kind: info.kind, algorithms: checkAlgs(info.kind, alg, at), source: { type: info.format, pem }, at };
}

const B64URL = /^[A-Za-z0-9_-]+$/;
const PRIVATE_JWK_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth"];

function jwkKey(jwk: Record<string, unknown>, kid: string | undefined, alg: readonly JwsAlgorithm[] | undefined, at: string): AuthKey {
  const member = (name: string): string => {
    const v = jwk[name];
    if (typeof v !== "string" || !B64URL.test(v)) throw new Error(`${at}.${name}: must be a base64url string`);
    return v;
  };
  if (jwk["use"] !== undefined && jwk["use"] !== "sig") throw new Error(`${at}.use: must be "sig"`);
  if (jwk["key_ops"] !== undefined) {
    const ops = jwk["key_ops"];
    if (!Array.isArray(ops) || !ops.includes("verify")) throw new Error(`${at}.key_ops: must include "verify"`);
  }
  if (jwk["kid"] !== undefined) {
    const jwkKid = string(jwk["kid"], `${at}.kid`);
    if (kid !== undefined && kid !== jwkKid) throw new Error(`${at}.kid: differs from the key's kid`);
    kid = jwkKid;
  }
  const kty = jwk["kty"];
  let kind: KeyKind;
  let source: AuthKeySource;
  if (kty === "oct") {
    kind = "hmac";
    const k = member("k");
    const secret = Uint8Array.from(atob(k.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
    source = { type: "hmac", secret };
  } else {
    let clean: JWK;
    for (const p of PRIVATE_JWK_MEMBERS) {
      if (jwk[p] !== undefined) throw new Error(`${at}: holds private key material ("${p}"); configure the public key only`);
    }
    if (kty === "RSA") {
      kind = "rsa";
      clean = { kty, n: member("n"), e: member("e") };
    } else if (kty === "EC") {
      const crv = jwk["crv"];
      kind = crv === "P-256" ? "ec-p256" : crv === "P-384" ? "ec-p384" : crv === "P-521" ? "ec-p521" : fail(`${at}.crv: must be P-256, P-384 or P-521`);
      clean = { kty, crv: crv as string, x: member("x"), y: member("y") };
    } else if (kty === "OKP") {
      if (jwk["crv"] !== "Ed25519") throw new Error(`${at}.crv: only Ed25519 is supported for OKP keys`);
      kind = "ed25519";
      clean = { kty, crv: "Ed25519", x: member("x") };
    } else {
      throw new Error(`${at}.kty: must be oct, RSA, EC or OKP`);
    }
    source = { type: "jwk", jwk: clean };
  }
  if (jwk["alg"] !== undefined) {
    const jwkAlg = jwk["alg"];
    if (!isJwsAlgorithm(jwkAlg) || !ALGORITHMS_BY_KIND[kind].includes(jwkAlg)) {
      throw new Error(`${at}.alg: "${String(jwkAlg)}" does not fit ${describeKind(kind)}`);
    }
    if (alg !== undefined && alg.some((a) => a !== jwkAlg)) throw new Error(`${at}: alg list conflicts with the key's own alg`);
    alg ??= [jwkAlg];
  }
  return { kid, kind, algorithms: checkAlgs(kind, alg, at), source, at };
}

function checkAlgs(kind: KeyKind, alg: readonly JwsAlgorithm[] | undefined, at: string): readonly JwsAlgorithm[] {
  if (alg === undefined) return ALGORITHMS_BY_KIND[kind];
  for (const a of alg) {
    if (!ALGORITHMS_BY_KIND[kind].includes(a)) throw new Error(`${at}: algorithm ${a} does not fit ${describeKind(kind)}`);
  }
  return alg;
}

function algList(raw: unknown, at: string): readonly JwsAlgorithm[] {
  const list = typeof raw === "string" ? [raw] : array(raw, at);
  if (list.length === 0) throw new Error(`${at}: must not be empty`);
  return Object.freeze(list.map((a, i) => {
    if (!isJwsAlgorithm(a)) throw new Error(`${at}[${i}]: "${String(a)}" is not a supported JWS algorithm`);
    return a;
  }));
}

const HEADER_NAME = /^[a-z0-9][a-z0-9._-]*$/;

function parseForwardClaims(raw: unknown, at: string): readonly ForwardClaim[] {
  const t = table(raw, at);
  const seen = new Set<string>();
  const out: ForwardClaim[] = [];
  for (const [claim, h] of Object.entries(t)) {
    const header = string(h, `${at}.${claim}`);
    if (!HEADER_NAME.test(header)) throw new Error(`${at}.${claim}: "${header}" is not a lower-case metadata key`);
    if (header.startsWith("grpc-") || header.endsWith("-bin") || RESERVED_HEADERS.has(header)) {
      throw new Error(`${at}.${claim}: "${header}" is reserved`);
    }
    if (seen.has(header)) throw new Error(`${at}.${claim}: "${header}" is used twice`);
    seen.add(header);
    out.push(Object.freeze({ claim, header }));
  }
  return Object.freeze(out);
}

function parseRule(raw: unknown, at: string): AuthRule {
  const t = table(raw, at);
  for (const k of Object.keys(t)) if (!RULE_FIELDS.has(k)) throw new Error(`${at}: unknown field "${k}"${didYouMean(k, RULE_FIELDS)}`);
  const method = string(t["method"], `${at}.method`);
  const star = method.indexOf("*");
  if ((method !== "*" && !method.startsWith("/")) || (star >= 0 && star !== method.length - 1)) {
    throw new Error(`${at}.method: "${method}" must be "*", "/pkg.Service/Method" or a prefix ending in "*"`);
  }
  const isPublic = optBool(t, "public", at) ?? false;
  const require = new Map<string, readonly ClaimScalar[]>();
  if (t["require"] !== undefined) {
    for (const [claim, v] of Object.entries(table(t["require"], `${at}.require`))) {
      const values = Array.isArray(v) ? v : [v];
      if (values.length === 0) throw new Error(`${at}.require.${claim}: must not be empty`);
      for (const x of values) {
        if (typeof x !== "string" && typeof x !== "boolean" && !(typeof x === "number" && Number.isFinite(x))) {
          throw new Error(`${at}.require.${claim}: values must be strings, numbers or booleans`);
        }
      }
      require.set(claim, Object.freeze(values.slice() as ClaimScalar[]));
    }
  }
  if (isPublic && require.size > 0) throw new Error(`${at}: a public rule cannot require claims`);
  if (!isPublic && require.size === 0) throw new Error(`${at}: set require or public = true`);
  return Object.freeze({ method, public: isPublic, require });
}

// ---- small typed readers ------------------------------------------------------------------

function fail(message: string): never {
  throw new Error(message);
}

function kindOf(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "array" : typeof v;
}

function table(v: unknown, at: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error(`${at}: must be a table (got ${kindOf(v)})`);
  return v as Record<string, unknown>;
}

function array(v: unknown, at: string): unknown[] {
  if (!Array.isArray(v)) throw new Error(`${at}: must be a list (got ${kindOf(v)})`);
  return v;
}

function string(v: unknown, at: string): string {
  if (typeof v !== "string") throw new Error(`${at}: must be a string (got ${kindOf(v)})`);
  return v;
}

function optString(t: Record<string, unknown>, k: string, at: string): string | undefined {
  return t[k] === undefined ? undefined : string(t[k], `${at}.${k}`);
}

function optBool(t: Record<string, unknown>, k: string, at: string): boolean | undefined {
  const v = t[k];
  if (v === undefined) return undefined;
  if (typeof v !== "boolean") throw new Error(`${at}.${k}: must be true or false (got ${kindOf(v)})`);
  return v;
}

function optNumber(
  t: Record<string, unknown>,
  k: string,
  at: string,
  o: { min?: number; max?: number; integer?: boolean },
): number | undefined {
  let v = t[k];
  if (v === undefined) return undefined;
  if (typeof v === "bigint" && v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER)) v = Number(v);
  if (typeof v !== "number" || !Number.isFinite(v)) throw new Error(`${at}.${k}: must be a number (got ${kindOf(v)})`);
  if (o.integer && !Number.isInteger(v)) throw new Error(`${at}.${k}: must be an integer`);
  if (o.min !== undefined && v < o.min) throw new Error(`${at}.${k}: must be at least ${o.min}`);
  if (o.max !== undefined && v > o.max) throw new Error(`${at}.${k}: must be at most ${o.max}`);
  return v;
}

function optStringList(t: Record<string, unknown>, k: string, at: string): readonly string[] | undefined {
  const v = t[k];
  if (v === undefined) return undefined;
  const list = typeof v === "string" ? [v] : array(v, `${at}.${k}`);
  if (list.length === 0) throw new Error(`${at}.${k}: must not be empty`);
  return Object.freeze(list.map((x, i) => string(x, `${at}.${k}[${i}]`)));
}
