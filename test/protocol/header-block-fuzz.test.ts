/**
 * Property test (fast-check, 10,000 cases) of the header-block parser (src/protocol/header-block.ts):
 * arbitrary bytes give valid metadata or a ConnectError.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { parseHeaderBlock } from "../../src/protocol/index.js";
import { only } from "../helpers/fuzz.js";

const numRuns = 10_000;

test("header-block parser: arbitrary bytes → metadata or a ConnectError", () => {
  const headerish = fc
    .array(fc.tuple(fc.stringMatching(/^[A-Za-z0-9\-_ :]{0,12}$/), fc.string({ maxLength: 12 })), { maxLength: 6 })
    .map((lines) => new TextEncoder().encode(lines.map(([k, v]) => `${k}: ${v}\r\n`).join("")));
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), headerish), fc.integer({ min: 0, max: 300 }), (bytes, max) => {
      const r = only(() => parseHeaderBlock(bytes, max));
      if (r !== "connect") {
        for (const [k, values] of r.metadata) {
          assert.match(k, /^[a-z0-9!#$%&'*+\-.^_`|~]+$/);
          for (const v of values) assert.match(v, /^[\x20-\x7e]*$/);
        }
      }
    }),
    { numRuns },
  );
});
