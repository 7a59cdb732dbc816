/**
 * Remote JWKS through a real local HTTP server whose key set changes mid-test: rotation, unknown
 * kids, several keys without kid, the key set going away, and the custom fetch hook.
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import { exportJWK, generateKeyPair } from "jose";
import type { JWK } from "jose";
import { createAuthenticator, parseAuthConfig } from "../../src/auth/index.js";
import { HMAC_SECRET, NOW_MS, rejection, request, sign } from "./fixtures.js";

const RTC = "/rtc.RTC/Signal";
const claims = { uid: "u", services: ["rtc"] };

let jwks: { keys: JWK[] } = { keys: [] };
let status = 200;
let hits = 0;
const server = createServer((req, res) => {
  hits++;
  if (req.url !== "/jwks.json") {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(status, { "content-type": "application/json" }).end(status === 200 ? JSON.stringify(jwks) : "down");
});
let url = "";

async function keyPair(alg: string, kid: string | undefined) {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), alg, use: "sig", ...(kid ? { kid } : {}) };
  return { privateKey, jwk };
}

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe("remote JWKS", () => {
  it("follows key rotation and rejects the retired kid", async () => {
    const a = await keyPair("RS256", "key-a");
    const b = await keyPair("ES256", "key-b");
    jwks = { keys: [a.jwk] };
    status = 200;
    hits = 0;
    let fetches = 0;
    const auth = createAuthenticator(
      parseAuthConfig({ enabled: true, jwks_url: url, jwks_cooldown_s: 0 }),
      { now: () => NOW_MS, fetch: (input, init) => (fetches++, fetch(input, init)) },
    );

    const tokenA = await sign("RS256", a.privateKey, claims, { kid: "key-a" });
    assert.equal((await auth.authenticate(request(RTC, tokenA))).claims?.uid, "u");
    assert.equal(hits, 1);
    const tokenA2 = await sign("RS256", a.privateKey, { ...claims, uid: "u2" }, { kid: "key-a" });
    assert.equal((await auth.authenticate(request(RTC, tokenA2))).claims?.uid, "u2");
    assert.equal(hits, 1, "the key set is cached");

    // Rotate: the server now only serves key-b.
    jwks = { keys: [b.jwk] };
    const tokenB = await sign("ES256", b.privateKey, { ...claims, uid: "b" }, { kid: "key-b" });
    assert.equal((await auth.authenticate(request(RTC, tokenB))).claims?.uid, "b");
    assert.equal(hits, 2, "an unknown kid refetched the key set");

    const tokenA3 = await sign("RS256", a.privateKey, { ...claims, uid: "u3" }, { kid: "key-a" });
    const err = await rejection(auth, request(RTC, tokenA3));
    assert.equal(err.code, Code.Unauthenticated);
    assert.equal(err.rawMessage, "unknown key id");

    // A token verified before the rotation lives on in the token cache until cleared (or its TTL).
    assert.ok((await auth.authenticate(request(RTC, tokenA))).claims);
    auth.clearCache();
    assert.equal((await rejection(auth, request(RTC, tokenA))).rawMessage, "unknown key id");
    assert.equal(fetches, hits, "every fetch went through the injected fetch");
  });

  it("tries every matching key when the token has no kid", async () => {
    const a = await keyPair("ES256", undefined);
    const b = await keyPair("ES256", undefined);
    jwks = { keys: [a.jwk, b.jwk] };
    status = 200;
    const auth = createAuthenticator(parseAuthConfig({ enabled: true, jwks_url: url }), { now: () => NOW_MS });
    assert.ok((await auth.authenticate(request(RTC, await sign("ES256", b.privateKey, claims)))).claims);
    assert.ok((await auth.authenticate(request(RTC, await sign("ES256", a.privateKey, claims)))).claims);
    const stranger = await keyPair("ES256", undefined);
    assert.equal((await rejection(auth, request(RTC, await sign("ES256", stranger.privateKey, claims)))).rawMessage, "invalid signature");
  });

  it("never takes HMAC from a JWKS, and honours jwks_alg", async () => {
    const a = await keyPair("RS256", "key-a");
    jwks = { keys: [a.jwk, { kty: "oct", k: Buffer.from(HMAC_SECRET).toString("base64url"), kid: "sym" }] };
    status = 200;
    const auth = createAuthenticator(parseAuthConfig({ enabled: true, jwks_url: url, jwks_alg: ["ES256"] }), { now: () => NOW_MS });
    assert.equal((await rejection(auth, request(RTC, await sign("HS256", HMAC_SECRET, claims, { kid: "sym" })))).rawMessage, "algorithm not allowed");
    assert.equal((await rejection(auth, request(RTC, await sign("RS256", a.privateKey, claims, { kid: "key-a" })))).rawMessage, "algorithm not allowed");
  });

  it("reports an unreachable key set as UNAVAILABLE, not as a bad token", async () => {
    const a = await keyPair("RS256", "key-a");
    jwks = { keys: [a.jwk] };
    status = 503;
    const auth = createAuthenticator(parseAuthConfig({ enabled: true, jwks_url: url }), { now: () => NOW_MS });
    const err = await rejection(auth, request(RTC, await sign("RS256", a.privateKey, claims, { kid: "key-a" })));
    assert.equal(err.code, Code.Unavailable);
    assert.equal(err.rawMessage, "key set unavailable");
    status = 200;
    assert.ok((await auth.authenticate(request(RTC, await sign("RS256", a.privateKey, claims, { kid: "key-a" })))).claims);
  });

  it("uses static keys and the JWKS side by side", async () => {
    const a = await keyPair("RS256", "key-a");
    jwks = { keys: [a.jwk] };
    status = 200;
    const auth = createAuthenticator(parseAuthConfig({ enabled: true, key: HMAC_SECRET, jwks_url: url }), { now: () => NOW_MS });
    assert.ok((await auth.authenticate(request(RTC, await sign("HS256", HMAC_SECRET, claims)))).claims);
    assert.ok((await auth.authenticate(request(RTC, await sign("RS256", a.privateKey, claims, { kid: "key-a" })))).claims);
  });
});
