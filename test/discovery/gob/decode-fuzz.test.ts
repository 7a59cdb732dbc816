/** Property tests of the gob decoder (src/discovery/gob/decode.ts): garbage is rejected with a GobError, never a hang or a crash. */
import { ok, throws } from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import fc from "fast-check";
import { decodeGetResponse, decodeGob, decodeRequest, encodeGob, GobError, GobWriter, gobSlice, type GobType } from "../../../src/discovery/index.js";
import { fromHex } from "../helpers.js";

const vectors: { hex: string }[] = JSON.parse(readFileSync(new URL("../../fixtures/discovery-gob-vectors.json", import.meta.url), "utf8")).vectors;
const valid = vectors.map((v) => fromHex(v.hex));

const outcome = { ok: 0, rejected: 0 };

/** Decodes with every entry point; only GobError may escape. */
function tryAll(bytes: Uint8Array): void {
  for (const f of [decodeGob, decodeRequest, decodeGetResponse]) {
    try {
      f(bytes);
      outcome.ok++;
    } catch (e) {
      outcome.rejected++;
      if (!(e instanceof GobError)) throw new Error(`non-GobError ${String(e)} for ${Buffer.from(bytes).toString("hex")}`);
    }
  }
}

/** A mutation: flip, set, insert or delete a byte, or truncate. */
const mutation = fc.oneof(
  fc.record({ op: fc.constant("set" as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant("insert" as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant("delete" as const), at: fc.nat(), byte: fc.constant(0) }),
  fc.record({ op: fc.constant("truncate" as const), at: fc.nat(), byte: fc.constant(0) }),
  fc.record({ op: fc.constant("big" as const), at: fc.nat(), byte: fc.integer({ min: 0xf8, max: 0xff }) }),
);

function mutate(src: Uint8Array, muts: { op: string; at: number; byte: number }[]): Uint8Array {
  let b = Array.from(src);
  for (const m of muts) {
    const at = b.length === 0 ? 0 : m.at % b.length;
    if (m.op === "set") b[at] = m.byte;
    else if (m.op === "insert") b.splice(at, 0, m.byte);
    else if (m.op === "delete") b.splice(at, 1);
    else if (m.op === "truncate") b = b.slice(0, at);
    else b.splice(at, 0, m.byte, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff); // a lying huge uint
  }
  return Uint8Array.from(b);
}

describe("gob fuzz", () => {
  it("random bytes (10,000 payloads) are decoded or rejected with GobError", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (b) => tryAll(b)), { numRuns: 10_000 });
  });

  it("random bytes behind a plausible header (5,000 payloads)", () => {
    // Start like a real definition message so the fuzzer gets past the first checks.
    const head = valid[0]!.subarray(0, 20);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        const p = new Uint8Array(head.length + b.length);
        p.set(head);
        p.set(b, head.length);
        tryAll(p);
      }),
      { numRuns: 5_000 },
    );
  });

  it("mutated valid vectors (10,000 payloads) are decoded or rejected with GobError", () => {
    outcome.ok = outcome.rejected = 0;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: valid.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 4 }), (i, muts) => tryAll(mutate(valid[i]!, muts))),
      { numRuns: 10_000 },
    );
    // Both paths were exercised: some mutants still decode (e.g. a changed string byte), most do not.
    ok(outcome.ok > 100 && outcome.rejected > 1000, JSON.stringify(outcome));
  });

  it("rejects lying lengths, huge counts, unknown ids, duplicates and deep nesting", () => {
    const msg = (...parts: number[][]) => {
      const body = parts.flat();
      return Uint8Array.from([body.length, ...body]);
    };
    // A value of an undefined user type.
    throws(() => decodeGob(msg([0xff, 0x82], [0])), /unknown type id 65/);
    // Type id 0, negative ids for predefined types, duplicates.
    throws(() => decodeGob(msg([0])), GobError);
    throws(() => decodeGob(msg([0x0b], [0x03, 0x00])), /reserved/);
    const def = valid[6]!.subarray(0, valid[6]![0]! + 1); // Response definition message
    const dup = new Uint8Array(def.length * 2 + 4);
    dup.set(def);
    dup.set(def, def.length);
    throws(() => decodeGob(dup), /duplicate/);
    // A message length beyond the payload.
    throws(() => decodeGob(Uint8Array.from([0xfc, 0x7f, 0xff, 0xff, 0xff, 0x00])), /exceeds/);
    // A giant string: string value claiming 2^40 bytes.
    throws(() => decodeGob(msg([0x0c], [0x00], [0xfb, 0x01, 0x00, 0x00, 0x00, 0x00])), /exceeds/);
    // A uint of more than 8 bytes.
    throws(() => decodeGob(msg([0x0c], [0x00], [0xf7, 1, 2, 3, 4, 5, 6, 7, 8, 9])), /out of range/);
    // Trailing data after the value.
    throws(() => decodeGob(Uint8Array.from([...encodeGob("string", "x"), 0x01])), /after the value/);
    // Empty payload.
    throws(() => decodeGob(new Uint8Array(0)), GobError);
  });

  it("caps nesting depth (recursive type sent 10,000 levels deep) and huge element counts", () => {
    const t: { kind: "struct"; name: string; fields: { name: string; type: GobType }[] } = { kind: "struct", name: "T", fields: [] };
    t.fields.push({ name: "Kids", type: gobSlice("[]main.T", t) });
    // Build the bytes by hand: each level is "field 1 (Kids), count 1, <child>", then the 00 ends.
    const depth = 10_000;
    const def = encodeGob(t, {});
    const defsLen = def.length - 4; // strip the value message "03 ff82 00" (count, id 65, end)
    const body = new GobWriter();
    body.int(65);
    for (let i = 0; i < depth; i++) (body.uint(1), body.uint(1));
    for (let i = 0; i <= depth; i++) body.byte(0);
    const count = new GobWriter();
    count.uint(body.len);
    const payload = new Uint8Array(defsLen + count.len + body.len);
    payload.set(def.subarray(0, defsLen));
    payload.set(count.bytes(), defsLen);
    payload.set(body.bytes(), defsLen + count.len);
    throws(() => decodeGob(payload), /nesting deeper than 32/);
    // A slice claiming 2^50 elements.
    const huge = new GobWriter();
    huge.int(65);
    huge.uint(1);
    huge.uint(2 ** 50);
    const c2 = new GobWriter();
    c2.uint(huge.len);
    const p2 = new Uint8Array(defsLen + c2.len + huge.len);
    p2.set(def.subarray(0, defsLen));
    p2.set(c2.bytes(), defsLen);
    p2.set(huge.bytes(), defsLen + c2.len);
    throws(() => decodeGob(p2), /exceeds/);
  });

  it("a 1 MiB payload of junk is rejected quickly and without blowing the stack", () => {
    const big = new Uint8Array(1 << 20).fill(0x01);
    big.set([0xfd, 0x0f, 0xff, 0xf0]); // message length ~1 MiB
    throws(() => decodeGob(big), GobError);
    throws(() => decodeGob(new Uint8Array(9 << 20)), /exceeds/);
  });
});

describe("regressions", () => {
  it("a message length that counts its own prefix byte is rejected, not read past the end (fast-check seed 219735127)", () => {
    // 0x0a says 10 bytes follow, but only 9 do; the value inside claims 8 big-endian bytes.
    throws(() => decodeGob(Uint8Array.from([10, 8, 248, 0, 0, 0, 0, 0, 0, 0])), (e: unknown) => e instanceof GobError && /message length 10 exceeds the 9 bytes left/.test(e.message));
  });
});
