/**
 * The verified-token cache: one signature check per token for a whole stream of calls, entries that
 * die at exp (plus skew) or the max TTL, a bounded LRU, and failures never cached.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import { createAuthenticator, parseAuthConfig } from "../../src/auth/index.js";
import { TokenCache } from "../../src/auth/token-cache.js";
import { HMAC_SECRET, NOW_MS, NOW_S, rejection, request, sign } from "./fixtures.js";

const RTC = "/rtc.RTC/Signal";
const claims = { uid: "u", sid: "s", services: ["rtc", "room"] };

function setup(extra: Record<string, unknown> = {}) {
  const clock = { ms: NOW_MS };
  const auth = createAuthenticator(parseAuthConfig({ enabled: true, key: HMAC_SECRET, ...extra }), { now: () => clock.ms });
  return { auth, clock };
}

describe("token cache", () => {
  it("a stream of 100 sequential calls with one token costs one signature check", async () => {
    const { auth } = setup();
    const token = await sign("HS256", HMAC_SECRET, { ...claims, exp: NOW_S + 3600 });
    for (let i = 0; i < 100; i++) {
      const r = await auth.authenticate(request(i % 2 ? RTC : "/room.RoomSignal/Signal", token));
      assert.equal(r.claims?.uid, "u");
    }
    assert.equal(auth.stats.signatureChecks, 1);
    assert.equal(auth.stats.cacheHits, 99);
  });

  it("concurrent first calls share one verification", async () => {
    const { auth } = setup();
    const token = await sign("HS256", HMAC_SECRET, claims);
    const results = await Promise.all(Array.from({ length: 50 }, () => auth.authenticate(request(RTC, `Bearer ${token}`))));
    assert.ok(results.every((r) => r.claims?.uid === "u"));
    assert.equal(auth.stats.signatureChecks, 1);
  });

  it("authorization is still decided per call on a cache hit", async () => {
    const { auth } = setup();
    const token = await sign("HS256", HMAC_SECRET, { ...claims, services: ["rtc"] });
    await auth.authenticate(request(RTC, token));
    const err = await rejection(auth, request("/room.RoomService/GetRooms", token));
    assert.equal(err.code, Code.PermissionDenied);
    assert.equal(auth.stats.signatureChecks, 1);
  });

  it("an entry dies at exp + skew: the next call re-verifies and sees the expiry", async () => {
    const { auth, clock } = setup({ clock_skew_s: 30 });
    const token = await sign("HS256", HMAC_SECRET, { ...claims, exp: NOW_S + 60 });
    await auth.authenticate(request(RTC, token));
    clock.ms = NOW_MS + 89_000; // exp + 29 s: still inside the skew, served from cache
    await auth.authenticate(request(RTC, token));
    assert.equal(auth.stats.signatureChecks, 1);
    clock.ms = NOW_MS + 91_000; // exp + 31 s
    const err = await rejection(auth, request(RTC, token));
    assert.equal(err.rawMessage, "token expired");
    assert.equal(auth.stats.signatureChecks, 2);
  });

  it("an entry dies after cache_ttl_s even when the token lives longer", async () => {
    const { auth, clock } = setup({ cache_ttl_s: 10 });
    const token = await sign("HS256", HMAC_SECRET, { ...claims, exp: NOW_S + 3600 });
    await auth.authenticate(request(RTC, token));
    clock.ms = NOW_MS + 9_000;
    await auth.authenticate(request(RTC, token));
    assert.equal(auth.stats.signatureChecks, 1);
    clock.ms = NOW_MS + 11_000;
    await auth.authenticate(request(RTC, token));
    assert.equal(auth.stats.signatureChecks, 2);
  });

  it("failed verifications are never cached", async () => {
    const { auth } = setup();
    const bad = await sign("HS256", "wrong-secret", claims);
    for (let i = 0; i < 3; i++) assert.equal((await rejection(auth, request(RTC, bad))).rawMessage, "invalid signature");
    assert.equal(auth.stats.signatureChecks, 3);
    assert.equal(auth.stats.rejected, 3);
    // a not-yet-valid token that becomes valid is accepted later, not remembered as a failure
    const { auth: a2, clock } = setup();
    const early = await sign("HS256", HMAC_SECRET, { ...claims, nbf: NOW_S + 100 });
    assert.equal((await rejection(a2, request(RTC, early))).rawMessage, "token not yet valid");
    clock.ms = NOW_MS + 100_000;
    assert.equal((await a2.authenticate(request(RTC, early))).claims?.uid, "u");
  });

  it("is bounded (LRU): the least recently used token is evicted first", async () => {
    const { auth } = setup({ cache_size: 2 });
    const [t1, t2, t3] = await Promise.all([1, 2, 3].map((n) => sign("HS256", HMAC_SECRET, { ...claims, uid: `u${n}` })));
    for (const t of [t1!, t2!, t1!, t3!]) await auth.authenticate(request(RTC, t)); // t2 is now least recent
    assert.equal(auth.stats.signatureChecks, 3);
    await auth.authenticate(request(RTC, t1!));
    assert.equal(auth.stats.signatureChecks, 3, "t1 still cached");
    await auth.authenticate(request(RTC, t2!));
    assert.equal(auth.stats.signatureChecks, 4, "t2 was evicted");
  });

  it("cache_size = 0 verifies every call; clearCache forgets", async () => {
    const { auth } = setup({ cache_size: 0 });
    const token = await sign("HS256", HMAC_SECRET, claims);
    for (let i = 0; i < 3; i++) await auth.authenticate(request(RTC, token));
    assert.equal(auth.stats.signatureChecks, 3);
    const { auth: a2 } = setup();
    await a2.authenticate(request(RTC, token));
    a2.clearCache();
    await a2.authenticate(request(RTC, token));
    assert.equal(a2.stats.signatureChecks, 2);
  });

  it("TokenCache keeps at most max entries", () => {
    const c = new TokenCache<number>(1000);
    for (let i = 0; i < 5000; i++) c.set(`t${i}`, i, Infinity);
    assert.equal(c.size, 1000);
    assert.equal(c.get("t0", 0), undefined);
    assert.equal(c.get("t4999", 0), 4999);
    c.set("x", 1, 10);
    assert.equal(c.get("x", 9), 1);
    assert.equal(c.get("x", 10), undefined);
  });
});
