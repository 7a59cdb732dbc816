/**
 * Property tests of nats-discovery's messages in gob (src/discovery/messages.ts): random Requests and
 * GetResponses survive encode → decode; encoded Requests are valid and deterministic.
 */
import { deepStrictEqual, ok } from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { decodeGetResponse, decodeRequest, encodeGetResponse, encodeRequest, type DiscoveryNode, type DiscoveryRequest } from "../../src/discovery/index.js";

const str = fc.string({ unit: "binary", maxLength: 12 });
const smallMap = <T>(v: fc.Arbitrary<T>) => fc.option(fc.dictionary(str, v, { maxKeys: 4 }), { nil: null });
const basic = fc.oneof(
  str,
  fc.boolean(),
  fc.integer(),
  fc.maxSafeInteger(),
  fc.double(),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).filter((b) => b > BigInt(Number.MAX_SAFE_INTEGER) || b < -BigInt(Number.MAX_SAFE_INTEGER)),
  fc.constant(null),
  fc.uint8Array({ maxLength: 8 }),
);
const node: fc.Arbitrary<DiscoveryNode> = fc.record({
  DC: str,
  Service: str,
  NID: str,
  RPC: fc.record({ Protocol: str, Addr: str, Params: smallMap(str) }),
  ExtraInfo: smallMap(basic),
});
const request: fc.Arbitrary<DiscoveryRequest> = fc.record({
  Action: fc.oneof(fc.constantFrom("save", "update", "delete", "get"), str),
  Node: node,
  Service: str,
  Params: smallMap(basic),
});

/** Plain-object copy of a decoded value for comparison (records from fc.dictionary may lack a prototype). */
const plain = (v: unknown): unknown =>
  v === null || typeof v !== "object" || v instanceof Uint8Array ? v : Array.isArray(v) ? v.map(plain) : Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));

describe("gob round trips", () => {
  it("random Requests survive encode → decode (3,000 cases)", () => {
    fc.assert(fc.property(request, (r) => deepStrictEqual(plain(decodeRequest(encodeRequest(r))), plain(r))), { numRuns: 3_000 });
  });
  it("random GetResponses survive encode → decode (1,000 cases)", () => {
    fc.assert(
      fc.property(fc.array(node, { maxLength: 5 }), (nodes) => {
        const back = decodeGetResponse(encodeGetResponse({ Nodes: nodes }));
        deepStrictEqual(plain(back.Nodes ?? []), plain(nodes));
      }),
      { numRuns: 1_000 },
    );
  });
  it("encoded Requests are valid and deterministic", () => {
    fc.assert(
      fc.property(request, (r) => {
        const a = encodeRequest(r);
        ok(a.length > 0);
        deepStrictEqual(encodeRequest(r), a);
      }),
      { numRuns: 500 },
    );
  });
});
