/**
 * Where the token of a call is found (src/auth/extract-token.ts): the query token only when allowed, the
 * authorization metadata first.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { rejection, request, sign, hs, make } from "./fixtures.js";

describe("token sources", () => {
  it("ignores the query token unless allow_query_token", async () => {
    const token = await hs({ services: ["rtc"], uid: "q" });
    const off = make();
    assert.equal((await rejection(off, request("/rtc.RTC/Signal", undefined, { queryToken: token }))).rawMessage, "missing token");
    const on = make({ allow_query_token: true });
    assert.equal((await on.authenticate(request("/rtc.RTC/Signal", undefined, { queryToken: token }))).claims?.uid, "q");
  });

  it("prefers the authorization metadata over the query token", async () => {
    const on = make({ allow_query_token: true });
    const header = await hs({ services: ["rtc"], uid: "header" });
    const query = await hs({ services: ["rtc"], uid: "query" });
    assert.equal((await on.authenticate(request("/rtc.RTC/Signal", header, { queryToken: query }))).claims?.uid, "header");
    const bad = await sign("HS256", "wrong", { services: ["rtc"] });
    assert.equal((await rejection(on, request("/rtc.RTC/Signal", bad, { queryToken: query }))).rawMessage, "invalid signature");
  });
});
