/**
 * The JWS algorithms edge-signal verifies, and which key kinds each one fits.
 * Everything else (`none`, ML-DSA, typos) is "not allowed" before a key is ever touched.
 */

/** A JWS `alg` edge-signal can verify. */
export type JwsAlgorithm =
  | "HS256" | "HS384" | "HS512"
  | "RS256" | "RS384" | "RS512"
  | "PS256" | "PS384" | "PS512"
  | "ES256" | "ES384" | "ES512"
  | "EdDSA" | "Ed25519";

/** What a verification key is; decides which algorithms it may verify. */
export type KeyKind = "hmac" | "rsa" | "ec-p256" | "ec-p384" | "ec-p521" | "ed25519";

/** Every algorithm a key of each kind can verify; also the default allow-list per kind. */
export const ALGORITHMS_BY_KIND: Readonly<Record<KeyKind, readonly JwsAlgorithm[]>> = {
  hmac: ["HS256", "HS384", "HS512"],
  rsa: ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"],
  "ec-p256": ["ES256"],
  "ec-p384": ["ES384"],
  "ec-p521": ["ES512"],
  ed25519: ["EdDSA", "Ed25519"],
};

/** Algorithms accepted from a remote JWKS by default: every asymmetric one, never HMAC. */
export const DEFAULT_JWKS_ALGORITHMS: readonly JwsAlgorithm[] = [
  ...ALGORITHMS_BY_KIND.rsa,
  "ES256", "ES384", "ES512",
  ...ALGORITHMS_BY_KIND.ed25519,
];

const ALL = new Set<string>(Object.values(ALGORITHMS_BY_KIND).flat());

/** Whether `alg` is one of the algorithms edge-signal can verify. */
export function isJwsAlgorithm(alg: unknown): alg is JwsAlgorithm {
  return typeof alg === "string" && ALL.has(alg);
}

/** Human name of a key kind, for config error messages. */
export function describeKind(kind: KeyKind): string {
  switch (kind) {
    case "hmac": return "an HMAC key";
    case "rsa": return "an RSA key";
    case "ec-p256": return "an EC P-256 key";
    case "ec-p384": return "an EC P-384 key";
    case "ec-p521": return "an EC P-521 key";
    case "ed25519": return "an Ed25519 key";
  }
}
