/**
 * gzip (src/protocol/compression.ts): round trip, the gunzip size limit, corrupt input, and the
 * request/response encoding negotiation.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Code } from "@connectrpc/connect";
import { gzip, gunzip, acceptsGzip, parseRequestEncoding } from "../../src/protocol/index.js";
import { isCode } from "../helpers/codes.js";

test("gzip round trip; gunzip limit (RESOURCE_EXHAUSTED) and corrupt input (INVALID_ARGUMENT); encoding negotiation", async () => {
  const data = new Uint8Array(100_000).fill(42);
  const z = await gzip(data);
  assert.ok(z.length < 1000);
  assert.deepEqual(await gunzip(z, 100_000), data);
  await assert.rejects(gunzip(z, 99_999), isCode(Code.ResourceExhausted));
  await assert.rejects(gunzip(Uint8Array.of(1, 2, 3, 4), 100), isCode(Code.InvalidArgument));
  assert.equal(parseRequestEncoding(null), undefined);
  assert.equal(parseRequestEncoding("identity"), undefined);
  assert.equal(parseRequestEncoding("gzip"), "gzip");
  assert.throws(() => parseRequestEncoding("br"), isCode(Code.Unimplemented));
  assert.equal(acceptsGzip("deflate, gzip;q=0.5"), true);
  assert.equal(acceptsGzip("gzip;q=0"), false);
  assert.equal(acceptsGzip("br"), false);
  assert.equal(acceptsGzip(null), false);
});
