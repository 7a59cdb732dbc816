/**
 * Base64 (src/protocol/base64.ts): the incremental decoder against Buffer for every split, both
 * alphabets, padded segments (gRPC-Web text), an unpadded end, and invalid input.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Code } from "@connectrpc/connect";
import { Base64Decoder, base64Decode, base64Encode, base64EncodeToBytes } from "../../src/protocol/index.js";
import { isCode } from "../helpers/codes.js";

test("base64: incremental decode matches Buffer for every split, both alphabets, padded segments, unpadded end", () => {
  const data = Uint8Array.from({ length: 50 }, (_, i) => (i * 37 + 11) & 0xff);
  for (let n = 0; n <= data.length; n++) {
    const part = data.subarray(0, n);
    const std = base64EncodeToBytes(part);
    assert.equal(new TextDecoder().decode(std), Buffer.from(part).toString("base64"));
    assert.equal(base64Encode(part, { url: true }), Buffer.from(part).toString("base64url"));
    for (let split = 0; split <= std.length; split++) {
      const d = new Base64Decoder();
      const out = [...d.push(std.subarray(0, split)), ...d.push(std.subarray(split)), ...d.end()];
      assert.deepEqual(out, [...part]);
    }
    assert.deepEqual([...base64Decode(base64Encode(part, { url: true }))], [...part]);
  }
  const seg = new Uint8Array([...base64EncodeToBytes(Uint8Array.of(1)), ...base64EncodeToBytes(Uint8Array.of(2, 3)), ...base64EncodeToBytes(Uint8Array.of(4, 5, 6))]);
  const d = new Base64Decoder();
  assert.deepEqual([...d.push(seg), ...d.end()], [1, 2, 3, 4, 5, 6]);
  for (const bad of ["A", "AB*D", "A===", "AA=A"]) assert.throws(() => base64Decode(bad), isCode(Code.InvalidArgument), bad);
});
