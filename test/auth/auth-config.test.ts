/**
 * parseAuthConfig: ION's [signal.jwt] shape, edge-signal's fields, defaults, and a clear Error for
 * every invalid input (without echoing key material). Also ready() on keys WebCrypto rejects.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { exportSPKI } from "jose";
import { AUTH_DEFAULTS, createAuthenticator, parseAuthConfig } from "../../src/auth/index.js";
import { HMAC_SECRET, makeKeys } from "./fixtures.js";
import type { TestKeys } from "./fixtures.js";

let keys: TestKeys;
before(async () => {
  keys = await makeKeys();
});

describe("parseAuthConfig", () => {
  it("accepts ION's [signal.jwt] table as is", () => {
    const c = parseAuthConfig({ enabled: true, key_type: "HMAC", key: "secret" });
    assert.equal(c.enabled, true);
    assert.equal(c.keys.length, 1);
    assert.equal(c.keys[0]!.kind, "hmac");
    assert.deepEqual(c.keys[0]!.algorithms, ["HS256", "HS384", "HS512"]);
    assert.deepEqual([...(c.keys[0]!.source as { secret: Uint8Array }).secret], [...new TextEncoder().encode("secret")]);
    assert.equal(c.clockSkewS, AUTH_DEFAULTS.clockSkewS);
    assert.equal(c.requireServicesClaim, true);
    assert.equal(c.allowQueryToken, false);
    assert.equal(c.requireExp, false);
    assert.equal(c.cacheSize, 10_000);
    assert.deepEqual(c.forwardClaims, [{ claim: "uid", header: "x-ion-uid" }, { claim: "sid", header: "x-ion-sid" }]);
    assert.ok(Object.isFrozen(c));
  });

  it("treats a missing table and ION's default (enabled = false) as disabled", () => {
    assert.equal(parseAuthConfig(undefined).enabled, false);
    assert.equal(parseAuthConfig(null).enabled, false);
    assert.equal(parseAuthConfig({ enabled: false, key_type: "HMAC", key: "" }).enabled, false);
  });

  it("derives key kinds and default allow-lists from PEM and JWK", () => {
    const c = parseAuthConfig({
      enabled: true,
      keys: [
        { kid: "r", pem: keys.rsa.spki },
        { kid: "e", pem: keys.ec384.spki },
        { kid: "j", jwk: keys.ec256.jwk },
        { kid: "d", jwk: keys.ed.jwk },
        { kid: "o", jwk: { kty: "oct", k: "c2VjcmV0", alg: "HS384" } },
        { kid: "x", alg: "PS512", pem: keys.rsa2.spki },
      ],
    });
    assert.deepEqual(c.keys.map((k) => [k.kid, k.kind, k.algorithms.join(",")]), [
      ["r", "rsa", "RS256,RS384,RS512,PS256,PS384,PS512"],
      ["e", "ec-p384", "ES384"],
      ["j", "ec-p256", "ES256"],
      ["d", "ed25519", "EdDSA,Ed25519"],
      ["o", "hmac", "HS384"],
      ["x", "rsa", "PS512"],
    ]);
  });

  it("accepts a PEM key under key_type (ION field, edge-signal extension)", () => {
    const c = parseAuthConfig({ enabled: true, key_type: "ECDSA", key: keys.ec256.spki });
    assert.equal(c.keys[0]!.kind, "ec-p256");
  });

  it("accepts TOML integers as bigint", () => {
    assert.equal(parseAuthConfig({ clock_skew_s: 5n }).clockSkewS, 5);
  });

  const invalid: Array<[string, () => unknown, RegExp]> = [
    ["not a table", () => "yes", /signal\.jwt: must be a table/],
    ["unknown field", () => ({ enabled: true, key: "k", keyy: 1 }), /unknown field "keyy"/],
    ["enabled without any key", () => ({ enabled: true }), /no key is configured/],
    ["empty HMAC key when enabled", () => ({ enabled: true, key: "" }), /must not be empty/],
    ["enabled of the wrong type", () => ({ enabled: "true", key: "k" }), /enabled: must be true or false/],
    ["unknown key_type", () => ({ enabled: true, key_type: "DSA", key: "k" }), /key_type: "DSA"/],
    ["key_type that does not match the PEM", () => ({ enabled: true, key_type: "RSA", key: keys.ec256.spki }), /does not match the PEM/],
    ["garbage PEM", () => ({ enabled: true, keys: [{ pem: "hello" }] }), /keys\[0\]\.pem: not a PEM block/],
    ["private key PEM", () => ({ enabled: true, keys: [{ pem: keys.rsa.pkcs8 }] }), /PRIVATE KEY was given where a public key belongs/],
    ["truncated DER", () => ({ enabled: true, keys: [{ pem: truncatePem(keys.rsa.spki) }] }), /not valid DER/],
    ["two key sources", () => ({ enabled: true, keys: [{ hmac: "a", pem: keys.rsa.spki }] }), /exactly one of hmac, pem, jwk/],
    ["no key source", () => ({ enabled: true, keys: [{ kid: "a" }] }), /exactly one of hmac, pem, jwk/],
    ["alg that does not fit the key", () => ({ enabled: true, keys: [{ alg: ["ES256"], pem: keys.rsa.spki }] }), /ES256 does not fit an RSA key/],
    ["HS alg on an RSA key (confusion by config)", () => ({ enabled: true, keys: [{ alg: "HS256", pem: keys.rsa.spki }] }), /HS256 does not fit an RSA key/],
    ["alg none", () => ({ enabled: true, keys: [{ alg: ["none"], hmac: "k" }] }), /"none" is not a supported JWS algorithm/],
    ["empty alg list", () => ({ enabled: true, keys: [{ alg: [], hmac: "k" }] }), /must not be empty/],
    ["duplicate kid", () => ({ enabled: true, keys: [{ kid: "a", hmac: "k" }, { kid: "a", hmac: "j" }] }), /kid "a" is configured twice/],
    ["JWK with private members", () => ({ enabled: true, keys: [{ jwk: { ...keys.ec256.jwk, d: "AAAA" } }] }), /private key material/],
    ["JWK of an unknown kty", () => ({ enabled: true, keys: [{ jwk: { kty: "XYZ" } }] }), /kty: must be oct, RSA, EC or OKP/],
    ["JWK curve not supported", () => ({ enabled: true, keys: [{ jwk: { kty: "EC", crv: "secp256k1", x: "AA", y: "AA" } }] }), /crv: must be P-256/],
    ["JWK for encryption", () => ({ enabled: true, keys: [{ jwk: { ...keys.ec256.jwk, use: "enc" } }] }), /use: must be "sig"/],
    ["JWK alg conflicting with alg", () => ({ enabled: true, keys: [{ alg: "ES256", jwk: { kty: "oct", k: "c2VjcmV0", alg: "HS256" } }] }), /does not fit an HMAC key|conflicts/],
    ["jwks_url not a URL", () => ({ enabled: true, jwks_url: "not a url" }), /jwks_url: not a URL/],
    ["jwks_url not http", () => ({ enabled: true, jwks_url: "file:///etc/passwd" }), /must be http\(s\)/],
    ["jwks_alg with HMAC", () => ({ enabled: true, jwks_url: "https://idp.test/jwks", jwks_alg: ["HS256"] }), /HMAC algorithm/],
    ["jwks_* without jwks_url", () => ({ enabled: true, key: "k", jwks_cooldown_s: 1 }), /set without jwks_url/],
    ["negative skew", () => ({ enabled: true, key: "k", clock_skew_s: -1 }), /clock_skew_s: must be at least 0/],
    ["skew as a string", () => ({ enabled: true, key: "k", clock_skew_s: "30s" }), /clock_skew_s: must be a number/],
    ["fractional cache size", () => ({ enabled: true, key: "k", cache_size: 1.5 }), /cache_size: must be an integer/],
    ["issuer list empty", () => ({ enabled: true, key: "k", issuer: [] }), /issuer: must not be empty/],
    ["audience of numbers", () => ({ enabled: true, key: "k", audience: [1] }), /audience\[0\]: must be a string/],
    ["forward to a reserved header", () => ({ enabled: true, key: "k", forward_claims: { uid: "authorization" } }), /reserved/],
    ["forward to grpc-*", () => ({ enabled: true, key: "k", forward_claims: { uid: "grpc-status" } }), /reserved/],
    ["forward to an upper-case header", () => ({ enabled: true, key: "k", forward_claims: { uid: "X-Uid" } }), /not a lower-case metadata key/],
    ["forward two claims to one header", () => ({ enabled: true, key: "k", forward_claims: { uid: "x-a", sid: "x-a" } }), /used twice/],
    ["rule without effect", () => ({ enabled: true, key: "k", rules: [{ method: "*" }] }), /set require or public = true/],
    ["rule with a bad pattern", () => ({ enabled: true, key: "k", rules: [{ method: "room.*", public: true }] }), /must be "\*"/],
    ["rule with a star in the middle", () => ({ enabled: true, key: "k", rules: [{ method: "/room.*/X", public: true }] }), /must be "\*"/],
    ["public rule with require", () => ({ enabled: true, key: "k", rules: [{ method: "*", public: true, require: { a: 1 } }] }), /cannot require/],
    ["rule requiring an object", () => ({ enabled: true, key: "k", rules: [{ method: "*", require: { a: { b: 1 } } }] }), /values must be strings/],
    ["rule with unknown field", () => ({ enabled: true, key: "k", rules: [{ method: "*", allow: true }] }), /unknown field "allow"/],
  ];
  for (const [name, raw, message] of invalid) {
    it(`rejects ${name}`, () => {
      assert.throws(() => parseAuthConfig(raw()), (e: unknown) => {
        assert.ok(e instanceof Error);
        assert.match(e.message, message);
        assert.ok(!e.message.includes("MII"), "no key material in the message");
        return true;
      });
    });
  }

  it("ready() names an RSA key below 2048 bits", async () => {
    const small = await crypto.subtle.generateKey(
      { name: "RSASSA-PKCS1-v1_5", modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
      true,
      ["sign", "verify"],
    );
    const pem = await exportSPKI(small.publicKey);
    const auth = createAuthenticator(parseAuthConfig({ enabled: true, keys: [{ kid: "small", pem }] }));
    await assert.rejects(auth.ready(), /signal\.jwt\.keys\[0\]\.pem: RSA keys must have at least 2048 bits/);
    const fine = createAuthenticator(parseAuthConfig({ enabled: true, key: HMAC_SECRET, keys: [{ pem: keys.rsa.spki }, { jwk: keys.ed.jwk }] }));
    await fine.ready();
  });
});

function truncatePem(pem: string): string {
  const lines = pem.trim().split("\n");
  return [lines[0], lines[1], lines[lines.length - 1]].join("\n");
}
