/**
 * Header blocks (src/protocol/header-block.ts), as gRPC-Web trailers and grpc-websockets headers carry
 * them: parse (trim, lower-case, protocol keys set aside), encode, limits.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Code } from "@connectrpc/connect";
import { parseHeaderBlock, encodeHeaderBlock } from "../../src/protocol/index.js";
import { isCode } from "../helpers/codes.js";

test("header blocks: parse (trim, lower-case, protocol keys set aside), encode, limits", () => {
  const parsed = parseHeaderBlock(new TextEncoder().encode("Content-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\nAuthorization:  tok \r\nx-multi: a, b\nx-bin-bin: AA==,AQ==\r\n\r\n"), 1000);
  assert.deepEqual([...parsed.metadata], [["authorization", ["tok"]], ["x-multi", ["a, b"]], ["x-bin-bin", ["AA==", "AQ=="]]]);
  assert.equal(parsed.protocol.get("content-type"), "application/grpc-web+proto");
  assert.throws(() => parseHeaderBlock(new TextEncoder().encode("x: a\rb\r\n"), 1000), isCode(Code.InvalidArgument));
  assert.throws(() => parseHeaderBlock(new TextEncoder().encode(": v\r\n"), 1000), isCode(Code.InvalidArgument));
  assert.throws(() => parseHeaderBlock(new TextEncoder().encode("k e y: v\r\n"), 1000), isCode(Code.InvalidArgument));
  assert.throws(() => parseHeaderBlock(Uint8Array.of(0x78, 0x3a, 0x00), 1000), isCode(Code.InvalidArgument));
  assert.throws(() => parseHeaderBlock(new Uint8Array(1001).fill(0x61), 1000), isCode(Code.ResourceExhausted));
  const block = encodeHeaderBlock([["grpc-status", "0"]], new Map([["x-a", ["1", "2"]], ["content-type", ["no"]]]), new Headers({ "x-e": "3" }));
  assert.equal(new TextDecoder().decode(block), "grpc-status: 0\r\nx-a: 1\r\nx-a: 2\r\nx-e: 3\r\n");
});
