/**
 * gob primitives (src/discovery/gob/writer.ts) as Go 1.19 encoding/gob writes them (spec §2.3.1),
 * and their round trips through the decoder.
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeRequest, encodeRequest, GobWriter } from "../../../src/discovery/index.js";
import { toHex } from "../helpers.js";

describe("gob primitives (spec §2.3.1)", () => {
  const w = () => new GobWriter(4);
  it("ints, uints, floats", () => {
    const cases: [(x: GobWriter) => void, string][] = [
      [(x) => x.int(65), "ff82"],
      [(x) => x.int(-65), "ff81"],
      [(x) => x.int(6), "0c"],
      [(x) => x.uint(127), "7f"],
      [(x) => x.uint(128), "ff80"],
      [(x) => x.uint(256), "fe0100"],
      [(x) => x.float(1.5), "fef83f"],
      [(x) => x.float(0), "00"],
      [(x) => x.uint(2n ** 64n - 1n), "f8ffffffffffffffff"],
      [(x) => x.int(-(2n ** 63n)), "f8ffffffffffffffff"],
    ];
    for (const [f, hex] of cases) {
      const x = w();
      f(x);
      equal(toHex(x.bytes()), hex);
    }
  });
  it("interface value of a string", () => {
    const bytes = encodeRequest({ Action: "get", Service: "rtc", Params: { sid: "room1" } });
    ok(toHex(bytes).includes("03736964" + "06737472696e67" + "0c" + "07" + "00" + "05726f6f6d31"));
  });
  it("strings of every length class and script round-trip (length prefix sized after UTF-8 encoding)", () => {
    for (const s of ["", "a", "a".repeat(42), "a".repeat(43), "a".repeat(50), "é".repeat(64), "😀".repeat(40), "x".repeat(70_000), "\uFEFFbom", "mixed ü 😀 ascii ".repeat(500)]) {
      const head = Array.from(s).slice(0, 3).join("");
      const back = decodeRequest(encodeRequest({ Action: s, Service: head }));
      equal(back.Action, s);
      equal(back.Service, head);
    }
  });
  it("round-trips int64/uint64 extremes and special floats through interface values", () => {
    const extra = { a: 2n ** 63n - 1n, b: -(2n ** 63n), c: Number.MAX_SAFE_INTEGER, d: -0, e: NaN, f: Infinity, g: 1e-300, h: true, i: null, j: new Uint8Array([1, 2]) };
    const back = decodeRequest(encodeRequest({ Action: "save", Node: { DC: "", Service: "", NID: "", RPC: { Protocol: "", Addr: "", Params: null }, ExtraInfo: extra } }));
    deepStrictEqual(back.Node.ExtraInfo, extra);
  });
});
