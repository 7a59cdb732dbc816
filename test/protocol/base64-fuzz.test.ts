/**
 * Property tests (fast-check, 10,000 cases each) of the base64 text decoder (src/protocol/base64.ts):
 * arbitrary bytes in arbitrary chunks give bytes or a ConnectError; padded segments split anywhere
 * decode to the original.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Base64Decoder, base64EncodeToBytes } from "../../src/protocol/index.js";
import { concat, only, split } from "../helpers/fuzz.js";

const numRuns = 10_000;

test("base64 text decoder: arbitrary bytes in arbitrary chunks → bytes or a ConnectError", () => {
  const b64ish = fc.uint8Array({ maxLength: 120 }).map((a) => a.map((b) => (b < 200 ? "AZaz09+/-_=\r\n "[b % 14]!.charCodeAt(0) : b)));
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 120 }), b64ish), fc.array(fc.nat(), { maxLength: 8 }), (bytes, cuts) => {
      only(() => {
        const d = new Base64Decoder();
        for (const chunk of split(bytes, cuts)) d.push(chunk);
        d.end();
      });
    }),
    { numRuns },
  );
});

test("base64 text decoder: padded segments, split anywhere (not aligned to 4), decode to the original", () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 30 }), { maxLength: 6 }), fc.array(fc.nat(), { maxLength: 10 }), (segments, cuts) => {
      const text = concat(segments.map(base64EncodeToBytes));
      const d = new Base64Decoder();
      const parts = split(text, cuts).map((c) => d.push(c));
      parts.push(d.end());
      assert.deepEqual([...concat(parts)], [...concat(segments)]);
    }),
    { numRuns },
  );
});
