/**
 * JSON codecs looked up from a protobuf Registry (src/protocol/json-codec.ts), on the demo schema.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { create, createRegistry, toBinary, fromBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { EchoRequestSchema, EchoResponseSchema, file_demo_v1_echo } from "../../src/gen/demo/v1/echo_pb.js";
import { createJsonCodecLookup } from "../../src/protocol/index.js";
import { isCode } from "../helpers/codes.js";

test("JSON codec lookup from a Registry (demo schema)", () => {
  const lookup = createJsonCodecLookup(createRegistry(file_demo_v1_echo));
  assert.equal(lookup("/demo.v1.EchoService/Nope"), undefined);
  assert.equal(lookup("/nope.Svc/Echo"), undefined);
  assert.equal(lookup("garbage"), undefined);
  const codec = lookup("/demo.v1.EchoService/EchoStream")!;
  assert.equal(lookup("/demo.v1.EchoService/EchoStream"), codec, "cached");
  const bin = codec.requestToBinary(new TextEncoder().encode('{"message":"hi","repeat":3,"unknownField":1}'));
  assert.deepEqual(fromBinary(EchoRequestSchema, bin), create(EchoRequestSchema, { message: "hi", repeat: 3 }));
  const json = codec.responseToJson(toBinary(EchoResponseSchema, create(EchoResponseSchema, { message: "m", node: "n" })));
  assert.deepEqual(JSON.parse(new TextDecoder().decode(json)), { message: "m", node: "n" });
  assert.throws(() => codec.requestToBinary(new TextEncoder().encode("{not json")), isCode(Code.InvalidArgument));
  assert.throws(() => codec.requestToBinary(new TextEncoder().encode('{"repeat":"x"}')), isCode(Code.InvalidArgument));
  assert.throws(() => codec.responseToJson(Uint8Array.of(0xff, 0xff)), isCode(Code.Internal));
});
