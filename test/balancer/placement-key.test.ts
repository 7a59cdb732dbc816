// KV key sanitisation: hostile room ids (`*`, `>`, spaces, dots, unicode, lone surrogates, 10 KB)
// always give a valid JetStream KV key, bounded in length, and different ids never share a key.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import fc from "fast-check";
import { keyToken, placementKey } from "../../src/balancer/index.js";
import { base64url } from "../../src/balancer/placement-key.js";
import { sha256 } from "../../src/balancer/sha256.js";

/** What the KV client accepts (`validateKey` in @nats-io/kv), plus: exactly two tokens. */
function assertValidKey(k: string): void {
  assert.match(k, /^[-/_=.a-zA-Z0-9]+$/, `invalid characters in ${k.slice(0, 80)}`);
  assert.ok(!k.startsWith(".") && !k.endsWith(".") && !k.includes(".."), k);
  assert.equal(k.split(".").length, 2, `one dot only: ${k.slice(0, 80)}`);
  assert.ok(k.length <= 2 * 130 + 1, `too long: ${k.length}`);
}

const hostile = [
  "*", ">", "room.*", "room.>", "a b", " ", "\t", "\n", ".", "..", "a.b", ".a", "a.", "$KV.x.y", "_INBOX.x",
  "room/1", "room=1", "ümlaut", "房间", "🎉🎉", "e\u0301", "\u00e9", "\u0000", "\uD800", "\uDC00", "x\uD83D", "\uFFFD",
  "r-abc", "b-abc", "h-abc", "abc", "ABC", "-", "_", "=", "a".repeat(64), "a".repeat(65), "x".repeat(10 * 1024),
  "é".repeat(48), "é".repeat(49), "\uD800".repeat(48), "\uD800".repeat(49), "🎉".repeat(5000), "*".repeat(10240),
  "__proto__", "constructor", "",
];

describe("placement keys", () => {
  test("hostile room ids give valid, distinct, bounded keys", () => {
    const seen = new Map<string, string>();
    for (const room of hostile) {
      const k = placementKey("rtc", room);
      assertValidKey(k);
      assert.ok(!seen.has(k), `${JSON.stringify(room.slice(0, 20))} collides with ${JSON.stringify(seen.get(k)?.slice(0, 20))}`);
      seen.set(k, room);
      assert.equal(placementKey("rtc", room), k, "deterministic");
    }
  });

  test("readable ids stay readable; others are encoded or hashed", () => {
    assert.equal(placementKey("rtc", "room-1"), "r-rtc.r-room-1");
    assert.equal(keyToken("a b"), "b-" + Buffer.from("a b").toString("base64url"));
    assert.equal(keyToken("房间"), "b-" + Buffer.from("房间").toString("base64url"));
    const long = "x".repeat(10 * 1024);
    assert.equal(keyToken(long), "h-" + createHash("sha256").update(long).digest("base64url"));
    assert.match(keyToken("\uD800"), /^u-/);
  });

  test("the service name is sanitised too, and scopes the key", () => {
    assertValidKey(placementKey("weird service.*", "room"));
    assert.notEqual(placementKey("rtc", "r"), placementKey("room", "r"));
    assert.notEqual(placementKey("a.b", "c"), placementKey("a", "b.c"));
  });

  test("property: any string (including lone surrogates) maps to a valid key, injectively", () => {
    const anyUnits = fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 120 }).map((u) => String.fromCharCode(...u));
    const arb = fc.oneof(anyUnits, fc.string(), fc.string({ unit: "grapheme" }), fc.string({ unit: "binary", maxLength: 200 }));
    const seen = new Map<string, string>();
    fc.assert(
      fc.property(arb, (s) => {
        const k = placementKey("rtc", s);
        assertValidKey(k);
        const prev = seen.get(k);
        assert.ok(prev === undefined || prev === s, `collision: ${JSON.stringify(prev)} / ${JSON.stringify(s)}`);
        seen.set(k, s);
      }),
      { numRuns: 3000 },
    );
  });

  test("sha256 matches node:crypto", () => {
    const lengths = [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 10_240, 100_003];
    for (const len of lengths) {
      const data = new Uint8Array(len);
      for (let i = 0; i < len; i++) data[i] = (i * 31 + len) & 0xff;
      assert.equal(Buffer.from(sha256(data)).toString("hex"), createHash("sha256").update(data).digest("hex"), `len ${len}`);
    }
    assert.equal(
      Buffer.from(sha256(new TextEncoder().encode("abc"))).toString("hex"),
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
  });

  test("base64url matches node's encoder", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (b) => {
        assert.equal(base64url(b), Buffer.from(b).toString("base64url"));
      }),
    );
  });
});
