/**
 * The authenticator (src/auth/authenticator.ts) with auth disabled: everything passes, nothing is
 * forwarded, the claim headers to strip are still named.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createAuthenticator, parseAuthConfig } from "../../src/auth/index.js";
import { request } from "./fixtures.js";

describe("disabled auth", () => {
  it("lets everything through, forwards nothing, still names the claim headers to strip", async () => {
    const auth = createAuthenticator(parseAuthConfig({ enabled: false, key_type: "HMAC", key: "<shared secret>" }));
    assert.equal(auth.enabled, false);
    assert.deepEqual(auth.claimHeaderNames, ["x-ion-uid", "x-ion-sid"]);
    const r = await auth.authenticate(request("/rtc.RTC/Signal", "garbage"));
    assert.equal(r.claims, undefined);
    assert.equal(r.forward.size, 0);
    await auth.ready();
    assert.equal(createAuthenticator(parseAuthConfig(undefined)).enabled, false);
  });
});
