/**
 * The hand-written Call encoder writes exactly what protobuf-es writes, for any method, nid and
 * metadata (ASCII, any Unicode, lone surrogates, empty strings, index-like and prototype keys, many
 * values, long strings whose lengths need multi-byte varints), and what it writes decodes back.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { fromBinary } from "@bufbuild/protobuf";
import { RequestSchema } from "../../src/gen/nrpc/nrpc_pb.js";
import { encodeCall, encodeCallReflect } from "../../src/nrpc/envelope.js";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

const anyString = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: "binary", maxLength: 20 }),
  // any UTF-16 code units: lone and reversed surrogates too
  fc.array(fc.oneof(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0xd800, max: 0xdfff })), { maxLength: 12 }).map((u) => String.fromCharCode(...u)),
  fc.constantFrom("", "\ud800", "a\udc00b", "\udc00\udc00", "\udc00\ud800", "\udbff\udfff", "é", "€", "😀", "x".repeat(200), "y".repeat(20_000)),
);
const key = fc.oneof(
  fc.stringMatching(/^[a-z0-9\-_.]{1,12}$/),
  fc.constantFrom("__proto__", "constructor", "toString", "0", "7", "01", "4294967294", "4294967295", "-1", "1.5", "x-room", "authorization", "grpc-trace-bin"),
  anyString,
);
const metadata = fc.option(
  fc.uniqueArray(fc.tuple(key, fc.array(anyString, { maxLength: 4 })), { selector: ([k]) => k, maxLength: 8 }).map((es) => new Map(es)),
  { nil: undefined },
);

test("encodeCall equals protobuf-es for any method, nid and metadata", () => {
  fc.assert(
    fc.property(anyString, anyString, metadata, (method, nid, md) => {
      const fast = encodeCall(method, nid, md);
      assert.equal(hex(fast), hex(encodeCallReflect(method, nid, md)));
      const back = fromBinary(RequestSchema, fast);
      assert.equal(back.type.case, "call");
    }),
    { numRuns: 20_000 },
  );
});

test("encodeCall: the shapes a gateway sends", () => {
  const cases: [string, string, Map<string, string[]> | undefined][] = [
    ["nrpc.n1.demo.v1.EchoService.Echo", "signal-abc123", undefined],
    ["nrpc.n1.demo.v1.EchoService.Echo", "signal-abc123", new Map()],
    ["nrpc.n1.demo.v1.EchoService.Echo", "signal-abc123", new Map([["x-room", ["r1"]], ["traceparent", ["00-0123456789abcdef0123456789abcdef-0123456789abcdef-01"]], ["x-ion-uid", ["ü"]]])],
    ["", "", new Map([["k", []], ["e", [""]]])],
    ["m", "n", new Map([["b", ["1"]], ["7", ["seven"]], ["a", ["2"]], ["__proto__", ["p"]]])],
  ];
  for (const [m, n, md] of cases) assert.equal(hex(encodeCall(m, n, md)), hex(encodeCallReflect(m, n, md)), `${m} ${n} ${JSON.stringify([...(md ?? [])])}`);
});
