/**
 * Property: whatever arrives as the authorization value (random strings, token-shaped junk, valid
 * tokens with one mutation), authenticate() rejects it with a ConnectError UNAUTHENTICATED and
 * never throws anything else.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import fc from "fast-check";
import { createAuthenticator, parseAuthConfig } from "../../src/auth/index.js";
import type { Authenticator } from "../../src/auth/index.js";
import { HMAC_SECRET, NOW_MS, makeKeys, request, sign } from "./fixtures.js";

const RTC = "/rtc.RTC/Signal";
let auth: Authenticator;
let valid: string[] = [];

before(async () => {
  const keys = await makeKeys();
  auth = createAuthenticator(
    parseAuthConfig({
      enabled: true,
      key: HMAC_SECRET,
      keys: [{ kid: "rsa", pem: keys.rsa.spki }, { kid: "ec", jwk: keys.ec256.jwk }, { kid: "ed", pem: keys.ed.spki }],
      cache_size: 0,
    }),
    { now: () => NOW_MS },
  );
  const claims = { uid: "alice", sid: "s", services: ["rtc"] };
  valid = await Promise.all([
    sign("HS256", HMAC_SECRET, claims),
    sign("HS512", HMAC_SECRET, claims),
    sign("RS256", keys.rsa.privateKey, claims, { kid: "rsa" }),
    sign("ES256", keys.ec256.privateKey, claims, { kid: "ec" }),
    sign("EdDSA", keys.ed.privateKey, claims, { kid: "ed" }),
  ]);
  // The originals are accepted, so every rejection below is due to the mutation.
  for (const t of valid) assert.ok((await auth.authenticate(request(RTC, t))).claims);
});

async function expectUnauthenticated(value: string): Promise<void> {
  try {
    await auth.authenticate(request(RTC, value));
  } catch (e) {
    if (!(e instanceof ConnectError)) throw new Error(`non-ConnectError for ${JSON.stringify(value.slice(0, 80))}: ${String(e)}`);
    if (e.code !== Code.Unauthenticated) throw new Error(`code ${Code[e.code]} "${e.rawMessage}" for ${JSON.stringify(value.slice(0, 80))}`);
    return;
  }
  throw new Error(`accepted ${JSON.stringify(value.slice(0, 80))}`);
}

const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const b64Char = fc.constantFrom(...B64URL.split(""));
const anyChar = fc.oneof(b64Char, fc.constantFrom(".", " ", "=", "+", "/", "%", "\u0000", "é", "\n"));

/** One edit of a token: replace, insert or delete a character, replace the last one (spelling bits), truncate, swap or drop a segment, add a prefix. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant("replace" as const), at: fc.nat(), ch: anyChar }),
  fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), ch: anyChar }),
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("last" as const), ch: b64Char }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("swap" as const), a: fc.nat(2), b: fc.nat(2) }),
  fc.record({ kind: fc.constant("segment" as const), at: fc.nat(2), text: fc.string({ unit: b64Char, maxLength: 40 }) }),
  fc.record({ kind: fc.constant("prefix" as const), text: fc.constantFrom("Bearer", "Basic ", "Bearer  Bearer ", "token=", "\"") }),
);

type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(token: string, m: Mutation): string {
  switch (m.kind) {
    case "replace": {
      const i = m.at % token.length;
      return token.slice(0, i) + m.ch + token.slice(i + 1);
    }
    case "insert": {
      const i = m.at % (token.length + 1);
      return token.slice(0, i) + m.ch + token.slice(i);
    }
    case "delete": {
      const i = m.at % token.length;
      return token.slice(0, i) + token.slice(i + 1);
    }
    case "last":
      return token.slice(0, -1) + m.ch;
    case "truncate":
      return token.slice(0, m.at % token.length);
    case "swap": {
      const p = token.split(".");
      [p[m.a], p[m.b]] = [p[m.b]!, p[m.a]!];
      return p.join(".");
    }
    case "segment": {
      const p = token.split(".");
      p[m.at] = m.text;
      return p.join(".");
    }
    case "prefix":
      return m.text + token;
  }
}

describe("authorization value fuzzing", () => {
  it("10,000 random strings → UNAUTHENTICATED", async () => {
    const tokenish = fc
      .array(fc.string({ unit: fc.oneof(b64Char, fc.constantFrom("=", "+", "/")), maxLength: 60 }), { minLength: 1, maxLength: 5 })
      .map((parts) => parts.join("."));
    const value = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.string({ unit: "binary", maxLength: 100 }),
      fc.string({ unit: "grapheme", maxLength: 50 }),
      tokenish,
      tokenish.map((t) => `Bearer ${t}`),
      fc.constantFrom("", " ", "Bearer", "bearer ", "null", "undefined", "..", "a.b.c", "eyJ.eyJ.", "x".repeat(20_000)),
    );
    await fc.assert(fc.asyncProperty(value, expectUnauthenticated), { numRuns: 10_000 });
  });

  it("10,000 single mutations of valid tokens → UNAUTHENTICATED", async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(valid.length - 1), mutation, async (which, m) => {
        const token = valid[which]!;
        const mutated = mutate(token, m);
        fc.pre(mutated !== token && mutated.trim() !== token && mutated.replace(/^bearer\s+/i, "") !== token);
        await expectUnauthenticated(mutated);
      }),
      { numRuns: 10_000 },
    );
  });
});
