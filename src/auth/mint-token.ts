/**
 * Mints tokens edge-signal (and ION) accept: HS* from the configured shared key, or any supported
 * algorithm from a private key. For the CLI's `token` command and for tests.
 */
import { SignJWT, importJWK, importPKCS8 } from "jose";
import type { JWK } from "jose";
import { isJwsAlgorithm } from "./algorithms.js";
import type { JwsAlgorithm } from "./algorithms.js";
import type { AuthConfig } from "./auth-config.js";

/** Options for {@link mintToken}. */
export interface MintTokenOptions {
  /** Default: HS256 (or the HMAC key's first allowed alg); with `privateKey`, inferred when possible. */
  alg?: JwsAlgorithm;
  /** Put in the header; without `privateKey` it also picks the configured HMAC key. */
  kid?: string;
  /** Sign with this instead of the configured HMAC key: a CryptoKey, a PKCS#8 PEM, or a private JWK. */
  privateKey?: CryptoKey | string | JWK;
  /** Lifetime from now; default 3600 s. `null`: no `exp` (ION accepts that). Ignored when `claims.exp` is set. */
  expiresInS?: number | null;
  /** Clock in ms since the epoch (default Date.now). */
  now?: () => number;
}

/**
 * Signs `claims` (e.g. `{ uid, sid, services: ["rtc"] }`). Adds `iat`, `exp`, and the configured
 * issuer/audience unless `claims` already has them. Throws an Error when no suitable key exists.
 */
export async function mintToken(config: AuthConfig, claims: Record<string, unknown>, opts: MintTokenOptions = {}): Promise<string> {
  const nowS = Math.floor((opts.now ?? Date.now)() / 1000);
  const payload: Record<string, unknown> = { ...claims };
  payload["iat"] ??= nowS;
  if (payload["exp"] === undefined && opts.expiresInS !== null) payload["exp"] = nowS + (opts.expiresInS ?? 3600);
  if (payload["iss"] === undefined && config.issuer) payload["iss"] = config.issuer[0];
  if (payload["aud"] === undefined && config.audience) payload["aud"] = config.audience[0];

  let alg: JwsAlgorithm;
  let key: CryptoKey | Uint8Array;
  let kid = opts.kid;
  const pk = opts.privateKey;
  if (pk !== undefined) {
    if (typeof pk === "string") {
      if (!opts.alg) throw new Error("mintToken: alg is required with a PEM private key");
      alg = opts.alg;
      key = await importPKCS8(pk, alg);
    } else if (isCryptoKey(pk)) {
      alg = opts.alg ?? inferAlg(pk);
      key = pk;
    } else {
      const a = opts.alg ?? pk.alg;
      if (!isJwsAlgorithm(a)) throw new Error("mintToken: alg is required (the JWK has none)");
      alg = a;
      key = (await importJWK(pk, alg)) as CryptoKey | Uint8Array;
    }
  } else {
    const hmac = config.keys.find((k) => k.source.type === "hmac" && (kid === undefined || k.kid === kid));
    if (!hmac || hmac.source.type !== "hmac") {
      throw new Error(kid === undefined ? "mintToken: no HMAC key configured; pass privateKey" : `mintToken: no HMAC key with kid "${kid}"`);
    }
    alg = opts.alg ?? (hmac.algorithms.includes("HS256") ? "HS256" : hmac.algorithms[0]!);
    if (!hmac.algorithms.includes(alg)) throw new Error(`mintToken: ${alg} is not allowed for the HMAC key`);
    key = hmac.source.secret;
    kid ??= hmac.kid;
  }
  const header: { alg: string; typ: string; kid?: string } = { alg, typ: "JWT" };
  if (kid !== undefined) header.kid = kid;
  return new SignJWT(payload).setProtectedHeader(header).sign(key);
}

function isCryptoKey(k: unknown): k is CryptoKey {
  return typeof k === "object" && k !== null && "algorithm" in k && "usages" in k && "type" in k;
}

function inferAlg(k: CryptoKey): JwsAlgorithm {
  const a = k.algorithm as { name: string; hash?: { name: string }; namedCurve?: string };
  const bits = a.hash?.name.replace("SHA-", "");
  switch (a.name) {
    case "RSASSA-PKCS1-v1_5": return `RS${bits}` as JwsAlgorithm;
    case "RSA-PSS": return `PS${bits}` as JwsAlgorithm;
    case "ECDSA": return a.namedCurve === "P-384" ? "ES384" : a.namedCurve === "P-521" ? "ES512" : "ES256";
    case "Ed25519": return "EdDSA";
    case "HMAC": return `HS${bits}` as JwsAlgorithm;
  }
  throw new Error("mintToken: cannot infer alg from the key; pass alg");
}
