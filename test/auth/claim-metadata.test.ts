/**
 * Claims forwarded as metadata (src/auth/claim-metadata.ts): configured names, arrays, percent-encoding,
 * and client-sent copies stripped.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encodeMetadataValue, withoutClaimHeaders } from "../../src/auth/index.js";
import { createMetadata } from "../../src/core/metadata.js";
import { request, hs, make } from "./fixtures.js";

describe("claim forwarding", () => {
  it("forwards uid and sid as x-ion-uid / x-ion-sid and lists them for stripping", async () => {
    const auth = make();
    assert.deepEqual(auth.claimHeaderNames, ["x-ion-uid", "x-ion-sid"]);
    const token = await hs({ uid: "alice", sid: "room-1", services: ["rtc"] });
    const r = await auth.authenticate(request("/rtc.RTC/Signal", token));
    assert.deepEqual([...r.forward], [["x-ion-uid", ["alice"]], ["x-ion-sid", ["room-1"]]]);
    // The result is the caller's to mutate: the next call is unaffected.
    r.forward.get("x-ion-uid")!.push("mallory");
    r.forward.set("x-evil", ["1"]);
    const again = await auth.authenticate(request("/rtc.RTC/Signal", token));
    assert.deepEqual([...again.forward], [["x-ion-uid", ["alice"]], ["x-ion-sid", ["room-1"]]]);
    assert.throws(() => (again.claims as { uid: string }).uid = "x");
  });

  it("omits absent claims", async () => {
    const r = await make().authenticate(request("/rtc.RTC/Signal", await hs({ uid: "alice", services: ["rtc"] })));
    assert.deepEqual([...r.forward], [["x-ion-uid", ["alice"]]]);
  });

  it("uses configured names, arrays become several values, numbers and booleans become strings", async () => {
    const auth = make({ forward_claims: { uid: "x-user", roles: "x-roles", level: "x-level", publish: "x-pub" } });
    assert.deepEqual(auth.claimHeaderNames, ["x-user", "x-roles", "x-level", "x-pub"]);
    const token = await hs({ uid: "bob", sid: "s", roles: ["a", "b"], level: 3, publish: true, services: ["rtc"] });
    const r = await auth.authenticate(request("/rtc.RTC/Signal", token));
    assert.deepEqual(Object.fromEntries(r.forward), { "x-user": ["bob"], "x-roles": ["a", "b"], "x-level": ["3"], "x-pub": ["true"] });
  });

  it("percent-encodes values so a claim cannot inject a header line", async () => {
    const auth = make();
    const token = await hs({ uid: "évé\r\nx-ion-sid: forged", sid: "100%", services: ["rtc"] });
    const r = await auth.authenticate(request("/rtc.RTC/Signal", token));
    assert.equal(r.forward.get("x-ion-uid")?.[0], "%C3%A9v%C3%A9%0D%0Ax-ion-sid: forged");
    assert.equal(r.forward.get("x-ion-sid")?.[0], "100%25");
    assert.equal(decodeURIComponent(r.forward.get("x-ion-uid")![0]!), "évé\r\nx-ion-sid: forged");
    assert.equal(encodeMetadataValue("plain value"), "plain value");
  });

  it("withoutClaimHeaders drops client-sent claim headers and keeps the rest", () => {
    const md = createMetadata([["x-ion-uid", "forged"], ["x-ion-sid", "forged"], ["x-request-id", "r1"]]);
    const clean = withoutClaimHeaders(md, make().claimHeaderNames);
    assert.deepEqual([...clean], [["x-request-id", ["r1"]]]);
    assert.equal(md.size, 3, "the input is not modified");
  });
});
