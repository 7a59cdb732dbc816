/**
 * The verification keys (src/auth/key-ring.ts): an X.509 CERTIFICATE PEM's key verifies tokens.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { createAuthenticator, parseAuthConfig } from "../../src/auth/index.js";
import { NOW_MS, fakeCertificate, makeKeys, request, sign } from "./fixtures.js";
import type { TestKeys } from "./fixtures.js";

let keys: TestKeys;
before(async () => {
  keys = await makeKeys();
});

describe("X.509 certificate keys", () => {
  it("verifies tokens with the key inside a CERTIFICATE PEM", async () => {
    const cert = fakeCertificate(keys.ec256.spki);
    const config = parseAuthConfig({ enabled: true, keys: [{ kid: "cert", pem: cert }] });
    assert.equal(config.keys[0]!.kind, "ec-p256");
    const auth = createAuthenticator(config, { now: () => NOW_MS });
    await auth.ready();
    const token = await sign("ES256", keys.ec256.privateKey, { services: ["rtc"] }, { kid: "cert" });
    assert.ok((await auth.authenticate(request("/rtc.RTC/Signal", token))).claims);
    const rsaCert = parseAuthConfig({ enabled: true, keys: [{ pem: fakeCertificate(keys.rsa.spki) }] });
    assert.equal(rsaCert.keys[0]!.kind, "rsa");
  });
});
