/**
 * grpc-timeout and Connect-Timeout-Ms parsing (src/protocol/parse-timeout.ts), the configured default
 * and maximum applied by effectiveTimeout.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Code } from "@connectrpc/connect";
import { parseGrpcTimeout, parseConnectTimeout, effectiveTimeout, resolveProtocolOptions } from "../../src/protocol/index.js";
import { isCode } from "../helpers/codes.js";

test("grpc-timeout and Connect-Timeout-Ms parsing; defaults and clamping", () => {
  assert.equal(parseGrpcTimeout(null), undefined);
  assert.equal(parseGrpcTimeout("1H"), 3_600_000);
  assert.equal(parseGrpcTimeout("2M"), 120_000);
  assert.equal(parseGrpcTimeout("3S"), 3000);
  assert.equal(parseGrpcTimeout("250m"), 250);
  assert.equal(parseGrpcTimeout("1500u"), 2);
  assert.equal(parseGrpcTimeout("1n"), 1, "sub-millisecond rounds up, not to 'no timeout'");
  assert.equal(parseGrpcTimeout("99999999S"), 99_999_999_000);
  for (const bad of ["", "1", "m", "123456789S", "1.5S", "-1S", "1s", " 1S", "1S "]) assert.throws(() => parseGrpcTimeout(bad), isCode(Code.InvalidArgument), bad);
  assert.equal(parseConnectTimeout(null), undefined);
  assert.equal(parseConnectTimeout("0"), 0);
  assert.equal(parseConnectTimeout("9999999999"), 9_999_999_999);
  for (const bad of ["", "12345678901", "1m", "-1", "1.0"]) assert.throws(() => parseConnectTimeout(bad), isCode(Code.InvalidArgument), bad);
  const o = resolveProtocolOptions({ defaultTimeoutMs: 5000, maxTimeoutMs: 10_000 });
  assert.equal(effectiveTimeout(undefined, o), 5000);
  assert.equal(effectiveTimeout(20_000, o), 10_000);
  assert.equal(effectiveTimeout(300, o), 300);
  assert.equal(effectiveTimeout(undefined, resolveProtocolOptions({ maxTimeoutMs: 7 })), 7);
  assert.equal(effectiveTimeout(undefined, resolveProtocolOptions({})), undefined);
});
