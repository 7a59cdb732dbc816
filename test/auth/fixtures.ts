/**
 * Keys and token helpers shared by the auth tests. Tokens are signed with jose directly (not with
 * mintToken), so the verifier is never only checked against its own minting code.
 */
import { ConnectError } from "@connectrpc/connect";
import { SignJWT, exportJWK, exportSPKI, exportPKCS8, generateKeyPair } from "jose";
import type { JWK } from "jose";
import { createMetadata } from "../../src/core/metadata.js";
import { createAuthenticator, parseAuthConfig } from "../../src/auth/index.js";
import type { Authenticator, AuthResult } from "../../src/auth/index.js";

/** A fixed clock: 2023-11-14T22:13:20Z. */
export const NOW_MS = 1_700_000_000_000;
export const NOW_S = NOW_MS / 1000;

/** ION's shared secret in the tests. */
export const HMAC_SECRET = "ion-shared-secret-for-tests-0123456789";

export interface TestKeyPair {
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  readonly spki: string;
  readonly pkcs8: string;
  readonly jwk: JWK;
}

async function pair(alg: string, opts: { crv?: string } = {}): Promise<TestKeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...opts });
  return {
    privateKey,
    publicKey,
    spki: await exportSPKI(publicKey),
    pkcs8: await exportPKCS8(privateKey),
    jwk: await exportJWK(publicKey),
  };
}

/** Generated once per test file. */
export async function makeKeys() {
  const [rsa, rsa2, ec256, ec384, ed] = await Promise.all([
    pair("RS256"),
    pair("RS256"),
    pair("ES256"),
    pair("ES384"),
    pair("Ed25519"),
  ]);
  return { rsa, rsa2, ec256, ec384, ed };
}
export type TestKeys = Awaited<ReturnType<typeof makeKeys>>;

/** Signs `claims` with `key` as `alg`; `iat` defaults to {@link NOW_S}. */
export async function sign(
  alg: string,
  key: CryptoKey | Uint8Array | string,
  claims: Record<string, unknown>,
  header: Record<string, unknown> = {},
): Promise<string> {
  const k = typeof key === "string" ? new TextEncoder().encode(key) : key;
  const payload = { iat: NOW_S, ...claims };
  return new SignJWT(payload).setProtectedHeader({ alg, typ: "JWT", ...header }).sign(k);
}

/** An authenticate() request for `path` carrying `authorization` (omitted when undefined). */
export function request(path: string, authorization?: string | string[], extra: { queryToken?: string } = {}) {
  const m = /^\/([^/]+)\/([^/]+)$/.exec(path);
  if (!m) throw new Error(`bad test path ${path}`);
  return {
    metadata: createMetadata(authorization === undefined ? [] : [["authorization", authorization]]),
    service: m[1]!,
    method: m[2]!,
    path,
    ...extra,
  };
}

/** Runs authenticate and returns the ConnectError it threw (fails if it succeeded or threw anything else). */
export async function rejection(auth: Authenticator, req: Parameters<Authenticator["authenticate"]>[0]): Promise<ConnectError> {
  let result: AuthResult;
  try {
    result = await auth.authenticate(req);
  } catch (e) {
    if (e instanceof ConnectError) return e;
    throw new Error(`expected a ConnectError, got ${String(e)}`);
  }
  throw new Error(`expected a rejection, got claims ${JSON.stringify(result.claims)}`);
}

/**
 * Wraps a PEM public key in a minimal X.509 certificate (junk signature: importers only read the
 * SPKI). Built by hand so the tests need no openssl.
 */
export function fakeCertificate(spkiPem: string): string {
  const spki = Buffer.from(spkiPem.replace(/-----[A-Z ]+-----|\s/g, ""), "base64");
  const tlv = (tag: number, body: Uint8Array): Buffer => {
    const n = body.length;
    const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
    return Buffer.concat([Buffer.from([tag, ...len]), body]);
  };
  const sigAlg = tlv(0x30, tlv(0x06, Buffer.from([0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02])));
  const time = (s: string) => tlv(0x17, Buffer.from(s, "ascii"));
  const tbs = tlv(0x30, Buffer.concat([
    tlv(0xa0, tlv(0x02, Buffer.from([2]))),
    tlv(0x02, Buffer.from([1])),
    sigAlg,
    tlv(0x30, Buffer.alloc(0)),
    tlv(0x30, Buffer.concat([time("230101000000Z"), time("330101000000Z")])),
    tlv(0x30, Buffer.alloc(0)),
    spki,
  ]));
  const der = tlv(0x30, Buffer.concat([tbs, sigAlg, tlv(0x03, Buffer.from([0, 1, 2, 3]))]));
  const b64 = der.toString("base64").replace(/.{64}/g, "$&\n").trim();
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

/** A token signed HS256 with ION's shared secret. */
export const hs = (claims: Record<string, unknown>) => sign("HS256", HMAC_SECRET, claims);

/** An authenticator with ION's shared secret on the fixed clock, plus the `extra` config fields. */
export function make(extra: Record<string, unknown> = {}) {
  return createAuthenticator(parseAuthConfig({ enabled: true, key: HMAC_SECRET, ...extra }), { now: () => NOW_MS });
}
