/**
 * The configured verification keys as WebCrypto keys, imported lazily (once per key and algorithm,
 * since a WebCrypto key is bound to one algorithm) and selected per token by `kid` and `alg`.
 */
import { importJWK, importSPKI, importX509 } from "jose";
import type { JwsAlgorithm } from "./algorithms.js";
import type { AuthConfig, AuthKey } from "./auth-config.js";
import type { AuthFailureReason } from "./auth-errors.js";

/** One configured key, ready to verify. */
export interface VerificationKey {
  readonly kid: string | undefined;
  readonly algorithms: ReadonlySet<JwsAlgorithm>;
  /** The WebCrypto key for `alg` (which must be in {@link algorithms}), imported on first use. */
  keyFor(alg: JwsAlgorithm): Promise<CryptoKey>;
}

/** Which keys may verify a token; or why none may. */
export type KeySelection =
  | { readonly ok: true; readonly keys: readonly VerificationKey[]; readonly jwks: boolean }
  | { readonly ok: false; readonly reason: "algorithm not allowed" | "unknown key id"; readonly label: AuthFailureReason };

/** The static keys of a config plus whether a JWKS is configured. */
export interface KeyRing {
  readonly keys: readonly VerificationKey[];
  /**
   * Picks the keys for a token. With a `kid`: only keys carrying that kid, else the JWKS, else
   * "unknown key id". Without: every key whose allow-list holds `alg`, then the JWKS.
   */
  select(alg: JwsAlgorithm, kid: string | undefined): KeySelection;
  /** Imports every key for every allowed algorithm; rejects with the first broken key. */
  importAll(): Promise<void>;
}

const ALG_NOT_ALLOWED: KeySelection = { ok: false, reason: "algorithm not allowed", label: "algorithm" };
const UNKNOWN_KID: KeySelection = { ok: false, reason: "unknown key id", label: "invalid" };

/** Builds the key ring for a config. Does no crypto until a key is first used. */
export function createKeyRing(config: AuthConfig): KeyRing {
  const keys = config.keys.map(verificationKey);
  const jwksAlgs = new Set<string>(config.jwks?.algorithms ?? []);
  const byKid = new Map<string, VerificationKey>();
  for (const k of keys) if (k.kid !== undefined) byKid.set(k.kid, k);
  const byAlg = new Map<JwsAlgorithm, VerificationKey[]>();
  for (const k of keys) {
    for (const a of k.algorithms) {
      const list = byAlg.get(a);
      if (list) list.push(k);
      else byAlg.set(a, [k]);
    }
  }
  return {
    keys,
    select(alg, kid) {
      const jwks = jwksAlgs.has(alg);
      if (kid !== undefined) {
        const k = byKid.get(kid);
        if (k) return k.algorithms.has(alg) ? { ok: true, keys: [k], jwks: false } : ALG_NOT_ALLOWED;
        if (config.jwks) return jwks ? { ok: true, keys: [], jwks } : ALG_NOT_ALLOWED;
        return UNKNOWN_KID;
      }
      const list = byAlg.get(alg) ?? [];
      return list.length > 0 || jwks ? { ok: true, keys: list, jwks } : ALG_NOT_ALLOWED;
    },
    async importAll() {
      await Promise.all(keys.flatMap((k) => [...k.algorithms].map((a) => k.keyFor(a))));
    },
  };
}

function verificationKey(key: AuthKey): VerificationKey {
  const imported = new Map<JwsAlgorithm, Promise<CryptoKey>>();
  return {
    kid: key.kid,
    algorithms: new Set(key.algorithms),
    keyFor(alg) {
      let p = imported.get(alg);
      if (!p) {
        p = importKey(key, alg);
        p.catch(() => {}); // a broken key is reported where it is awaited
        imported.set(alg, p);
      }
      return p;
    },
  };
}

async function importKey(key: AuthKey, alg: JwsAlgorithm): Promise<CryptoKey> {
  let k: CryptoKey;
  try {
    const s = key.source;
    switch (s.type) {
      case "hmac":
        k = await crypto.subtle.importKey("raw", s.secret, { name: "HMAC", hash: `SHA-${alg.slice(2)}` }, false, ["verify"]);
        break;
      case "spki":
        k = await importSPKI(s.pem, alg);
        break;
      case "x509":
        k = await importX509(s.pem, alg);
        break;
      case "jwk":
        k = (await importJWK(s.jwk, alg)) as CryptoKey;
        break;
    }
  } catch {
    throw new Error(`${key.at}: cannot be imported for ${alg}`);
  }
  const modulus = (k.algorithm as { modulusLength?: number }).modulusLength;
  if (modulus !== undefined && modulus < 2048) throw new Error(`${key.at}: RSA keys must have at least 2048 bits`);
  return k;
}
