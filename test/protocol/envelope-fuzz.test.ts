/**
 * Property tests (fast-check, 10,000 cases each) of the envelope parser (src/protocol/envelope.ts):
 * arbitrary bytes in arbitrary chunks give envelopes or a ConnectError, never anything else; encoded
 * messages split anywhere decode to the same messages.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { EnvelopeDecoder, encodeEnvelope, type Envelope } from "../../src/protocol/index.js";
import { concat, only, split } from "../helpers/fuzz.js";

const numRuns = 10_000;

test("envelope parser: arbitrary bytes in arbitrary chunks → envelopes or a ConnectError", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(), { maxLength: 8 }), fc.integer({ min: 0, max: 200 }), (bytes, cuts, max) => {
      only(() => {
        const d = new EnvelopeDecoder(max);
        let total = 0;
        for (const chunk of split(bytes, cuts)) {
          d.push(chunk);
          for (let e = d.next(); e; e = d.next()) {
            assert.ok(e.data.length <= max);
            total += 5 + e.data.length;
          }
        }
        d.end();
        assert.equal(total, bytes.length, "every byte belongs to an envelope");
      });
    }),
    { numRuns },
  );
});

test("envelope parser: encoded messages split anywhere decode to the same messages", () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ flags: fc.integer({ min: 0, max: 255 }), data: fc.uint8Array({ maxLength: 40 }) }), { maxLength: 6 }),
      fc.array(fc.nat(), { maxLength: 10 }),
      (msgs, cuts) => {
        const d = new EnvelopeDecoder(40);
        const out: Envelope[] = [];
        for (const chunk of split(concat(msgs.map((m) => encodeEnvelope(m.flags, m.data))), cuts)) {
          d.push(chunk);
          for (let e = d.next(); e; e = d.next()) out.push(e);
        }
        d.end();
        assert.deepEqual(out.map((e) => [e.flags, [...e.data]]), msgs.map((m) => [m.flags, [...m.data]]));
      },
    ),
    { numRuns },
  );
});
