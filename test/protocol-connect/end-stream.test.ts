/**
 * The Connect end-stream message (src/protocol-connect/end-stream.ts): metadata with a __proto__ key
 * stays data; error metadata merged.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import { encodeEndStream } from "../../src/protocol-connect/index.js";

test("Connect end-stream JSON: metadata with a __proto__ key stays data; error metadata merged", () => {
  const err = new ConnectError("gone", Code.NotFound, { "x-e": "1" });
  const json = JSON.parse(new TextDecoder().decode(encodeEndStream(err, new Map([["__proto__", ["p"]], ["x-t", ["a", "b"]], ["grpc-status", ["0"]]]))));
  assert.deepEqual(json, JSON.parse('{"error":{"code":"not_found","message":"gone"},"metadata":{"__proto__":["p"],"x-t":["a","b"],"x-e":["1"]}}'));
  assert.equal(Object.getPrototypeOf(json.metadata), Object.prototype, "no prototype pollution");
  assert.equal(new TextDecoder().decode(encodeEndStream(undefined, new Map())), "{}");
});
