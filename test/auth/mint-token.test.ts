/**
 * mintToken (src/auth/mint-token.ts, the CLI's `token` command): minted tokens verify, carry the
 * defaults, and fail loudly when no key fits.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { decodeJwt, decodeProtectedHeader, jwtVerify } from "jose";
import { createAuthenticator, mintToken, parseAuthConfig } from "../../src/auth/index.js";
import { HMAC_SECRET, NOW_MS, NOW_S, makeKeys, request } from "./fixtures.js";
import type { TestKeys } from "./fixtures.js";

let keys: TestKeys;
before(async () => {
  keys = await makeKeys();
});

describe("mintToken", () => {
  it("mints an HS256 token from ION's shared key that ION's rules accept", async () => {
    const config = parseAuthConfig({ enabled: true, key_type: "HMAC", key: HMAC_SECRET });
    const token = await mintToken(config, { uid: "alice", sid: "room-1", services: ["rtc"] }, { now: () => NOW_MS });
    assert.equal(decodeProtectedHeader(token).alg, "HS256");
    // Independent check with the raw secret, as ION's Go code would do.
    const { payload } = await jwtVerify(token, new TextEncoder().encode(HMAC_SECRET), { currentDate: new Date(NOW_MS) });
    assert.deepEqual(payload, { uid: "alice", sid: "room-1", services: ["rtc"], iat: NOW_S, exp: NOW_S + 3600 });
    const auth = createAuthenticator(config, { now: () => NOW_MS });
    assert.equal((await auth.authenticate(request("/rtc.RTC/Signal", token))).claims?.sid, "room-1");
  });

  it("honours expiresInS (null = no exp), alg, kid, issuer and audience", async () => {
    const config = parseAuthConfig({
      enabled: true,
      keys: [{ kid: "h1", hmac: "one" }, { kid: "h2", hmac: "two", alg: ["HS512"] }],
      issuer: "https://idp.test",
      audience: "edge",
    });
    const t = await mintToken(config, { services: ["rtc"] }, { kid: "h2", expiresInS: null, now: () => NOW_MS });
    assert.deepEqual(decodeProtectedHeader(t), { alg: "HS512", typ: "JWT", kid: "h2" });
    assert.deepEqual(decodeJwt(t), { services: ["rtc"], iat: NOW_S, iss: "https://idp.test", aud: "edge" });
    const auth = createAuthenticator(config, { now: () => NOW_MS });
    assert.ok((await auth.authenticate(request("/rtc.RTC/Signal", t))).claims);
    await assert.rejects(mintToken(config, {}, { kid: "h2", alg: "HS256" }), /HS256 is not allowed/);
    await assert.rejects(mintToken(config, {}, { kid: "h9" }), /no HMAC key with kid "h9"/);
  });

  it("signs with a private key (CryptoKey, PKCS#8 PEM) and the result verifies against the public key", async () => {
    const config = parseAuthConfig({ enabled: true, keys: [{ kid: "ec", jwk: keys.ec256.jwk }, { kid: "rsa", pem: keys.rsa.spki }] });
    const auth = createAuthenticator(config, { now: () => NOW_MS });
    const t1 = await mintToken(config, { services: ["rtc"] }, { privateKey: keys.ec256.privateKey, kid: "ec", now: () => NOW_MS });
    assert.equal(decodeProtectedHeader(t1).alg, "ES256");
    assert.ok((await auth.authenticate(request("/rtc.RTC/Signal", t1))).claims);
    const t2 = await mintToken(config, { services: ["rtc"] }, { privateKey: keys.rsa.pkcs8, alg: "PS384", kid: "rsa", now: () => NOW_MS });
    assert.ok((await auth.authenticate(request("/rtc.RTC/Signal", t2))).claims);
    await assert.rejects(mintToken(config, {}), /no HMAC key configured/);
    await assert.rejects(mintToken(config, {}, { privateKey: keys.rsa.pkcs8 }), /alg is required/);
  });

  it("keeps explicit claims (e.g. an already expired exp for tests)", async () => {
    const config = parseAuthConfig({ enabled: true, key: HMAC_SECRET });
    const t = await mintToken(config, { exp: NOW_S - 100, iat: NOW_S - 200, services: ["rtc"] });
    assert.deepEqual(decodeJwt(t), { exp: NOW_S - 100, iat: NOW_S - 200, services: ["rtc"] });
  });
});
