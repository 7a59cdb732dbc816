/**
 * Table-driven token verification through the public Authenticator: which tokens are accepted and,
 * for the rejected ones, which code and reason the client sees.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import { SignJWT, UnsecuredJWT, generateKeyPair, importPKCS8 } from "jose";
import { createAuthenticator, parseAuthConfig } from "../../src/auth/index.js";
import type { Authenticator } from "../../src/auth/index.js";
import { authFailureReason } from "../../src/observability/call-stats.js";
import { HMAC_SECRET, NOW_MS, NOW_S, makeKeys, rejection, request, sign } from "./fixtures.js";
import type { TestKeys } from "./fixtures.js";

const RTC = "/rtc.RTC/Signal";
const ok = { uid: "alice", sid: "room-1", services: ["rtc", "room"] };

let keys: TestKeys;
let auth: Authenticator;
let rsaOnly: Authenticator;
let strict: Authenticator;

before(async () => {
  keys = await makeKeys();
  const now = () => NOW_MS;
  auth = createAuthenticator(
    parseAuthConfig({
      enabled: true,
      key_type: "HMAC",
      key: HMAC_SECRET,
      keys: [
        { kid: "rsa1", pem: keys.rsa.spki },
        { kid: "rs256-only", alg: ["RS256"], pem: keys.rsa2.spki },
        { kid: "ec1", jwk: keys.ec256.jwk },
        { pem: keys.ec384.spki },
        { kid: "ed1", pem: keys.ed.spki },
      ],
    }),
    { now },
  );
  rsaOnly = createAuthenticator(parseAuthConfig({ enabled: true, keys: [{ pem: keys.rsa.spki }] }), { now });
  strict = createAuthenticator(
    parseAuthConfig({ enabled: true, key: HMAC_SECRET, issuer: "https://idp.test", audience: ["edge-signal", "other"] }),
    { now },
  );
  await Promise.all([auth.ready(), rsaOnly.ready(), strict.ready()]);
});

describe("accepted tokens", () => {
  const cases: Array<[string, () => Promise<string>]> = [
    ["HS256 with ION's shared key", () => sign("HS256", HMAC_SECRET, ok)],
    ["HS384 with ION's shared key", () => sign("HS384", HMAC_SECRET, ok)],
    ["HS512 with ION's shared key", () => sign("HS512", HMAC_SECRET, ok)],
    ["ION-style token: no exp, no iat", () => new SignJWT(ok).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(new TextEncoder().encode(HMAC_SECRET))],
    ["RS256 by kid (PEM)", () => sign("RS256", keys.rsa.privateKey, ok, { kid: "rsa1" })],
    ["RS256 without kid (tries keys allowing RS256)", () => sign("RS256", keys.rsa.privateKey, ok)],
    ["RS256 by the second RSA key without kid", () => sign("RS256", keys.rsa2.privateKey, ok)],
    ["PS256 with the same RSA key", async () => sign("PS256", await importPKCS8(keys.rsa.pkcs8, "PS256"), ok, { kid: "rsa1" })],
    ["RS512 with the same RSA key", async () => sign("RS512", await importPKCS8(keys.rsa.pkcs8, "RS512"), ok, { kid: "rsa1" })],
    ["ES256 by kid (JWK)", () => sign("ES256", keys.ec256.privateKey, ok, { kid: "ec1" })],
    ["ES384 without kid (PEM)", () => sign("ES384", keys.ec384.privateKey, ok)],
    ["EdDSA by kid (PEM)", () => sign("EdDSA", keys.ed.privateKey, ok, { kid: "ed1" })],
    ["exp within the clock skew", () => sign("HS256", HMAC_SECRET, { ...ok, exp: NOW_S - 20 })],
    ["nbf within the clock skew", () => sign("HS256", HMAC_SECRET, { ...ok, nbf: NOW_S + 20 })],
  ];
  for (const [name, make] of cases) {
    it(name, async () => {
      const token = await make();
      const r = await auth.authenticate(request(RTC, token));
      assert.equal(r.claims?.uid, "alice");
      assert.deepEqual(r.claims?.services, ["rtc", "room"]);
    });
  }

  it("accepts the raw token (as ion-sdk-js sends it) and Bearer in any case", async () => {
    const token = await sign("HS256", HMAC_SECRET, { ...ok, uid: "bearer-test" });
    for (const v of [token, `Bearer ${token}`, `bearer ${token}`, `BEARER \t ${token}`, `  ${token}  `]) {
      const r = await auth.authenticate(request(RTC, v));
      assert.equal(r.claims?.uid, "bearer-test", v.slice(0, 10));
    }
  });
});

describe("rejected tokens", () => {
  type Case = [name: string, make: () => Promise<string | undefined>, code: Code, reason: string, who?: () => Authenticator];
  const cases: Case[] = [
    ["missing token", async () => undefined, Code.Unauthenticated, "missing token"],
    ["empty authorization", async () => "", Code.Unauthenticated, "missing token"],
    ["Bearer without a token", async () => "Bearer ", Code.Unauthenticated, "missing token"],
    ["another scheme", async () => "Basic YWxpY2U6c2VjcmV0", Code.Unauthenticated, "unsupported authorization scheme"],
    ["expired", () => sign("HS256", HMAC_SECRET, { ...ok, exp: NOW_S - 31 }), Code.Unauthenticated, "token expired"],
    ["expired (RS256)", () => sign("RS256", keys.rsa.privateKey, { ...ok, exp: NOW_S - 3600 }, { kid: "rsa1" }), Code.Unauthenticated, "token expired"],
    ["not yet valid", () => sign("HS256", HMAC_SECRET, { ...ok, nbf: NOW_S + 60 }), Code.Unauthenticated, "token not yet valid"],
    ["iat in the future beyond skew", () => sign("HS256", HMAC_SECRET, { ...ok, iat: NOW_S + 120 }), Code.Unauthenticated, "token issued in the future"],
    ["exp that is not a number", () => sign("HS256", HMAC_SECRET, { ...ok, exp: "tomorrow" }), Code.Unauthenticated, "malformed claims: exp must be a number"],
    ["wrong HMAC key", () => sign("HS256", "not-the-secret", ok), Code.Unauthenticated, "invalid signature"],
    ["wrong RSA key under a known kid", () => sign("RS256", keys.rsa2.privateKey, ok, { kid: "rsa1" }), Code.Unauthenticated, "invalid signature"],
    ["RSA key not configured at all", async () => sign("RS256", (await makeKeys()).rsa.privateKey, ok), Code.Unauthenticated, "invalid signature"],
    ["alg outside the key's allow-list", async () => sign("PS256", await importPKCS8(keys.rsa2.pkcs8, "PS256"), ok, { kid: "rs256-only" }), Code.Unauthenticated, "algorithm not allowed"],
    ["alg no key allows", async () => sign("ES512", (await generateKeyPair("ES512")).privateKey, ok), Code.Unauthenticated, "algorithm not allowed"],
    ["alg none", async () => new UnsecuredJWT(ok).encode(), Code.Unauthenticated, "malformed token"],
    ["alg none with a fake signature", async () => fakeSigned({ alg: "none" }, ok), Code.Unauthenticated, "algorithm not allowed"],
    ["alg NONE with a fake signature", async () => fakeSigned({ alg: "NONE" }, ok), Code.Unauthenticated, "algorithm not allowed"],
    ["HS256 keyed with the RSA public PEM (kid of the RSA key)", () => sign("HS256", keys.rsa.spki, ok, { kid: "rsa1" }), Code.Unauthenticated, "algorithm not allowed"],
    ["HS256 keyed with the RSA public PEM (no kid)", () => sign("HS256", keys.rsa.spki, ok), Code.Unauthenticated, "invalid signature"],
    ["HS256 keyed with the RSA public PEM, RSA-only config", () => sign("HS256", keys.rsa.spki, ok), Code.Unauthenticated, "algorithm not allowed", () => rsaOnly],
    ["tampered payload", async () => tamper(await sign("HS256", HMAC_SECRET, { ...ok, services: ["room"] }), { ...ok, services: ["rtc"] }), Code.Unauthenticated, "invalid signature"],
    ["tampered payload (RS256)", async () => tamper(await sign("RS256", keys.rsa.privateKey, ok, { kid: "rsa1" }), { ...ok, uid: "mallory" }), Code.Unauthenticated, "invalid signature"],
    ["tampered header (kid swapped to another key)", async () => retitle(await sign("ES256", keys.ec256.privateKey, ok, { kid: "ec1" }), { alg: "ES256", kid: "ed1" }), Code.Unauthenticated, "algorithm not allowed"],
    ["unknown critical header", () => signRaw("HS256", HMAC_SECRET, JSON.stringify(ok), { crit: ["x-must-understand"], "x-must-understand": 1 }), Code.Unauthenticated, "unsupported token header"],
    ["unencoded payload (b64: false)", () => signRaw("HS256", HMAC_SECRET, JSON.stringify(ok), { b64: false, crit: ["b64"] }), Code.Unauthenticated, "malformed token"],
    ["unknown kid", () => sign("HS256", HMAC_SECRET, ok, { kid: "nope" }), Code.Unauthenticated, "unknown key id"],
    ["kid that is not a string", () => sign("HS256", HMAC_SECRET, ok, { kid: 7 }), Code.Unauthenticated, "malformed token"],
    ["garbage", async () => "garbage", Code.Unauthenticated, "malformed token"],
    ["two parts", async () => (await sign("HS256", HMAC_SECRET, ok)).split(".").slice(0, 2).join("."), Code.Unauthenticated, "malformed token"],
    ["four parts", async () => (await sign("HS256", HMAC_SECRET, ok)) + ".AAAA", Code.Unauthenticated, "malformed token"],
    ["JWE-shaped (five parts)", async () => "eyJhbGciOiJkaXIiLCJlbmMiOiJBMTI4R0NNIn0..AAAA.AAAA.AAAA", Code.Unauthenticated, "malformed token"],
    ["bad base64", async () => "ey$$.eyJ.abc", Code.Unauthenticated, "malformed token"],
    ["non-canonical base64 in the signature", async () => nonCanonical(await sign("HS256", HMAC_SECRET, ok)), Code.Unauthenticated, "malformed token"],
    ["header that is not JSON", async () => `${b64("not json")}.${b64("{}")}.AAAA`, Code.Unauthenticated, "malformed token"],
    ["header that is a JSON array", async () => `${b64("[1]")}.${b64("{}")}.AAAA`, Code.Unauthenticated, "malformed token"],
    ["payload that is not JSON", () => signRaw("HS256", HMAC_SECRET, "not json"), Code.Unauthenticated, "malformed token"],
    ["payload that is a JSON array", () => signRaw("HS256", HMAC_SECRET, "[1,2]"), Code.Unauthenticated, "malformed token"],
    ["huge token", async () => `${b64('{"alg":"HS256"}')}.${"A".repeat(9000)}.AAAA`, Code.Unauthenticated, "token too large"],
    ["services claim of the wrong type", () => sign("HS256", HMAC_SECRET, { ...ok, services: "rtc" }), Code.Unauthenticated, "malformed claims: services must be a list of strings"],
    ["uid of the wrong type", () => sign("HS256", HMAC_SECRET, { ...ok, uid: 42 }), Code.Unauthenticated, "malformed claims: uid must be a string"],
    ["publish of the wrong type", () => sign("HS256", HMAC_SECRET, { ...ok, publish: "yes" }), Code.Unauthenticated, "malformed claims: publish must be a boolean"],
    ["token for another service", () => sign("HS256", HMAC_SECRET, { ...ok, services: ["room"] }), Code.PermissionDenied, "service not allowed by token"],
    ["token naming a service only as a substring", () => sign("HS256", HMAC_SECRET, { ...ok, services: ["rt", "RTC", "tc"] }), Code.PermissionDenied, "service not allowed by token"],
    ["token without a services claim", () => sign("HS256", HMAC_SECRET, { uid: "alice" }), Code.PermissionDenied, "token has no services claim"],
    ["wrong issuer", () => sign("HS256", HMAC_SECRET, { ...ok, iss: "https://evil.test", aud: "edge-signal" }), Code.Unauthenticated, "issuer not accepted", () => strict],
    ["missing issuer", () => sign("HS256", HMAC_SECRET, { ...ok, aud: "edge-signal" }), Code.Unauthenticated, "token has no issuer", () => strict],
    ["wrong audience", () => sign("HS256", HMAC_SECRET, { ...ok, iss: "https://idp.test", aud: "someone-else" }), Code.Unauthenticated, "audience not accepted", () => strict],
    ["missing audience", () => sign("HS256", HMAC_SECRET, { ...ok, iss: "https://idp.test" }), Code.Unauthenticated, "token has no audience", () => strict],
  ];

  /**
   * The auth-failure metrics label of each refusal, by its message (labels are set where the refusal
   * is decided, never read from the message; a message missing here fails the case).
   */
  const labels: Record<string, string> = {
    "missing token": "missing",
    "unsupported authorization scheme": "invalid",
    "token expired": "expired",
    "token not yet valid": "not_yet_valid",
    "token issued in the future": "invalid",
    "invalid signature": "signature",
    "algorithm not allowed": "algorithm",
    "malformed token": "malformed",
    "unsupported token header": "invalid",
    "unknown key id": "invalid",
    "token too large": "invalid",
    "issuer not accepted": "issuer",
    "token has no issuer": "issuer",
    "audience not accepted": "audience",
    "token has no audience": "audience",
  };
  const labelOf = (code: Code, message: string) =>
    code === Code.PermissionDenied ? "permission_denied" : message.startsWith("malformed claims: ") ? "malformed" : labels[message];

  for (const [name, make, code, reason, who] of cases) {
    it(`${name} → ${Code[code]} "${reason}"`, async () => {
      const token = await make();
      const err = await rejection((who ?? (() => auth))(), request(RTC, token));
      assert.equal(err.code, code, `${name}: got ${Code[err.code]} "${err.rawMessage}"`);
      assert.equal(err.rawMessage, reason);
      assert.equal(authFailureReason(err), labelOf(code, reason), `${name}: metrics label`);
      // Never leak the token or key material.
      if (token && token.length > 8) assert.ok(!err.message.includes(token));
      assert.ok(!err.message.includes(HMAC_SECRET));
      assert.ok(!err.message.includes("BEGIN"));
      assert.equal(err.cause, undefined);
    });
  }

  it("accepts the correct issuer and an audience from the list", async () => {
    const token = await sign("HS256", HMAC_SECRET, { ...ok, iss: "https://idp.test", aud: ["x", "other"] });
    const r = await strict.authenticate(request(RTC, token));
    assert.equal(r.claims?.iss, "https://idp.test");
  });

  it("rejects two authorization values", async () => {
    const t = await sign("HS256", HMAC_SECRET, ok);
    const err = await rejection(auth, request(RTC, [t, t]));
    assert.equal(err.code, Code.Unauthenticated);
    assert.equal(err.rawMessage, "multiple authorization values");
  });
});

function b64(s: string): string {
  return Buffer.from(s).toString("base64url");
}

/** A compact token with any header, a payload, and a signature of junk. */
function fakeSigned(header: Record<string, unknown>, payload: Record<string, unknown>): string {
  return `${b64(JSON.stringify(header))}.${b64(JSON.stringify(payload))}.c2lnbmF0dXJl`;
}

/** Replaces the payload, keeping header and signature. */
function tamper(token: string, payload: Record<string, unknown>): string {
  const [h, , s] = token.split(".");
  return `${h}.${b64(JSON.stringify({ iat: NOW_S, ...payload }))}.${s}`;
}

/** Replaces the header, keeping payload and signature. */
function retitle(token: string, header: Record<string, unknown>): string {
  const [, p, s] = token.split(".");
  return `${b64(JSON.stringify(header))}.${p}.${s}`;
}

/** Flips an unused low bit of the signature's last character (same bytes, different spelling). */
function nonCanonical(token: string): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const sig = token.slice(token.lastIndexOf(".") + 1);
  assert.notEqual(sig.length % 4, 0, "HS256 signature has unused bits");
  const last = alphabet.indexOf(sig[sig.length - 1]!);
  return token.slice(0, -1) + alphabet[last ^ 1];
}

/** HMAC-signs an arbitrary payload string under an arbitrary header. */
async function signRaw(alg: string, secret: string, payload: string, header: Record<string, unknown> = {}): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: `SHA-${alg.slice(2)}` }, false, ["sign"]);
  const input = `${b64(JSON.stringify({ alg, typ: "JWT", ...header }))}.${b64(payload)}`;
  const sig = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(input));
  return `${input}.${Buffer.from(sig).toString("base64url")}`;
}
