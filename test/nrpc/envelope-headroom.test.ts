/**
 * A message read in pieces (src/protocol/message-buffer.ts) is published without a second copy: its
 * Data envelope is written into the spare bytes in front of it, and is byte for byte the envelope of
 * the same message anywhere else (header sizes 3 to 9 bytes: lengths that need 1 to 4 varint bytes).
 * A part of such a message, or any other buffer, is copied as before, and the buffer it came from is
 * left alone.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { fromBinary } from "@bufbuild/protobuf";
import { RequestSchema } from "../../src/gen/nrpc/nrpc_pb.js";
import { encodeData } from "../../src/nrpc/envelope.js";
import { allocMessage, headroomOf } from "../../src/protocol/message-buffer.js";

const sizes = [1, 5, 127, 128, 300, 16_383, 16_384, 65_536, 2_097_151, 2_097_152];

function filled(n: number, into: Uint8Array = new Uint8Array(n)): Uint8Array {
  for (let i = 0; i < n; i++) into[i] = (i * 31 + 7) & 0xff;
  return into;
}

test("a whole message from allocMessage: the same envelope bytes, written in place", () => {
  for (const n of sizes) {
    const plain = filled(n);
    const roomy = filled(n, allocMessage(n));
    assert.equal(headroomOf(roomy), 12);
    const want = encodeData(plain);
    const got = encodeData(roomy);
    assert.equal(got.buffer, roomy.buffer, `${n} bytes: the envelope is a view of the message's buffer`);
    assert.equal(got.byteOffset + got.byteLength, roomy.byteOffset + roomy.byteLength);
    assert.deepEqual(Buffer.from(got), Buffer.from(want), `${n} bytes: same envelope bytes`);
    const back = fromBinary(RequestSchema, got);
    assert.equal(back.type.case, "data");
    assert.deepEqual(Buffer.from(back.type.value.data), Buffer.from(plain));
    // Encoding it again (a retry on another node) writes the same header: the first envelope is unchanged.
    const again = encodeData(roomy);
    assert.deepEqual(Buffer.from(got), Buffer.from(want));
    assert.deepEqual(Buffer.from(again), Buffer.from(want));
  }
});

test("a part of such a message, or another buffer, is copied and its buffer untouched", () => {
  const whole = filled(1000, allocMessage(1000));
  const before = Buffer.from(new Uint8Array(whole.buffer)); // spare bytes included
  for (const part of [whole.subarray(0, 999), whole.subarray(1), whole.subarray(10, 20)]) {
    assert.equal(headroomOf(part), 0);
    const env = encodeData(part);
    assert.notEqual(env.buffer, whole.buffer);
    assert.deepEqual(Buffer.from(env), Buffer.from(encodeData(Uint8Array.from(part))));
  }
  assert.deepEqual(Buffer.from(new Uint8Array(whole.buffer)), before);
  const other = filled(1000);
  assert.equal(headroomOf(other), 0);
  assert.equal(headroomOf(Buffer.alloc(10)), 0);
  assert.notEqual(encodeData(other).buffer, other.buffer);
});

test("an empty message is Data{} as before", () => {
  assert.deepEqual([...encodeData(allocMessage(0))], [0x1a, 0x00]);
});
