/** Golden gob vectors (Go 1.19 encoding/gob): decode to the Go value, re-encode to the same bytes. */
import { deepStrictEqual, equal, ok, throws } from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import {
  decodeGetResponse,
  decodeGob,
  decodeRequest,
  decodeResponse,
  encodeGetResponse,
  encodeGob,
  encodeRequest,
  encodeResponse,
  GobError,
  GobTypeIds,
  GobWriter,
  gobSlice,
  gobStruct,
  nodeGobType,
  requestGobType,
  responseGobType,
  type GobType,
} from "../../../src/discovery/index.js";

interface Vector {
  name: string;
  go_type: "Request" | "Response" | "GetResponse";
  value: any;
  hex: string;
}
const vectors: Vector[] = JSON.parse(readFileSync(new URL("../../fixtures/discovery-gob-vectors.json", import.meta.url), "utf8")).vectors;
const fromHex = (h: string) => Uint8Array.from(h.replace(/\s+/g, "").match(/../g)!.map((b) => parseInt(b, 16)));
const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

/** The generator was a Go `package main` that encoded Request, Response, then GetResponse. */
const mainGetResponse = gobStruct("GetResponse", [{ name: "Nodes", type: gobSlice("[]main.Node", nodeGobType) }]);
const generatorIds = new GobTypeIds();
generatorIds.register(requestGobType);
generatorIds.register(responseGobType);
generatorIds.register(mainGetResponse);

const decoders = { Request: decodeRequest, Response: decodeResponse, GetResponse: decodeGetResponse };

/** True when a map field (Params, ExtraInfo) somewhere holds 2+ entries (Go writes those in random order). */
function hasBigMap(v: unknown): boolean {
  if (v === null || typeof v !== "object") return false;
  return Object.entries(v).some(([k, x]) => ((k === "Params" || k === "ExtraInfo") && x !== null && Object.keys(x).length >= 2) || hasBigMap(x));
}

describe("gob vectors", () => {
  ok(vectors.length >= 10, "fixture has vectors");
  for (const v of vectors) {
    it(`${v.name}: decodes to the Go value`, () => {
      deepStrictEqual(decoders[v.go_type](fromHex(v.hex)), v.value);
    });
    it(`${v.name}: re-encodes to the same bytes`, () => {
      const bytes =
        v.go_type === "Request" ? encodeRequest(v.value) : v.go_type === "Response" ? encodeResponse(v.value) : encodeGob(mainGetResponse, v.value, generatorIds);
      if (hasBigMap(v.value)) deepStrictEqual(decoders[v.go_type](bytes), v.value);
      else equal(toHex(bytes), v.hex);
      // The production encoder (slice named []discovery.Node) decodes to the same value too.
      const prod = v.go_type === "Request" ? encodeRequest(v.value) : v.go_type === "Response" ? encodeResponse(v.value) : encodeGetResponse(v.value);
      deepStrictEqual(decoders[v.go_type](prod), v.value);
    });
  }

  it("reads the definitions dynamically (Request vector: ids 65..69 with Go's names)", () => {
    const d = decodeGob(fromHex(vectors.find((v) => v.name === "request-save")!.hex));
    equal(d.typeId, 65);
    deepStrictEqual(
      [...d.types].map(([id, t]) => [id, t.kind, t.name]),
      [
        [65, "struct", "Request"],
        [66, "struct", "Node"],
        [67, "struct", "RPC"],
        [68, "map", "map[string]string"],
        [69, "map", "map[string]interface {}"],
      ],
    );
  });

  it("encodes like a fresh Go process (spec §2.3.2 Response{Success:true}, ids from 65)", () => {
    equal(
      toHex(encodeGob(responseGobType, { Success: true })),
      "2dff8103010108526573706f6e736501ff820001020107537563636573730102000106526561736f6e010c00000005ff82010100",
    );
    equal(toHex(encodeGob(responseGobType, {})).slice(-8), "03ff8200");
  });
});

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

describe("gob decoder: by name, any ids, any order", () => {
  it("accepts other ids, definitions in another order (forward references) and unknown fields", () => {
    // A sender whose Node has an extra field and whose ids start elsewhere.
    const rpc = gobStruct("RPC", [
      { name: "Weird", type: "float" },
      { name: "Addr", type: "string" },
      { name: "Protocol", type: "string" },
    ]);
    const node = gobStruct("Node", [
      { name: "NID", type: "string" },
      { name: "Load", type: "int" },
      { name: "RPC", type: rpc },
      { name: "Service", type: "string" },
      { name: "DC", type: "string" },
    ]);
    const req = gobStruct("Request", [
      { name: "Zzz", type: gobSlice("[]string", "string") },
      { name: "Node", type: node },
      { name: "Action", type: "string" },
    ]);
    const ids = new GobTypeIds();
    ids.register(gobStruct("Other", [{ name: "X", type: "int" }])); // shifts every id
    const value = { Zzz: ["a", "b"], Action: "save", Node: { NID: "n-1", Load: 7, Service: "rtc", DC: "dc9", RPC: { Weird: 2.5, Addr: "nats://x", Protocol: "nats-grpc" } } };
    const bytes = encodeGob(req, value, ids);
    // Split the stream into messages and send the value's definitions in reverse order.
    const msgs: Uint8Array[] = [];
    for (let p = 0; p < bytes.length; ) {
      const n = bytes[p]!; // every message here is < 128 bytes
      msgs.push(bytes.subarray(p, p + 1 + n));
      p += 1 + n;
    }
    const defs = msgs.slice(0, -1).reverse();
    const shuffled = new Uint8Array(bytes.length);
    let o = 0;
    for (const m of [...defs, msgs.at(-1)!]) (shuffled.set(m, o), (o += m.length));
    const expected = { Action: "save", Node: { DC: "dc9", Service: "rtc", NID: "n-1", RPC: { Protocol: "nats-grpc", Addr: "nats://x", Params: null }, ExtraInfo: null }, Service: "", Params: null };
    deepStrictEqual(decodeRequest(bytes), expected);
    deepStrictEqual(decodeRequest(shuffled), expected);
    ok(decodeGob(bytes).typeId > 65);
  });

  it("a Request definition without Node decodes to a zero Node", () => {
    const slim = gobStruct("Request", [
      { name: "Action", type: "string" },
      { name: "Service", type: "string" },
    ]);
    deepStrictEqual(decodeRequest(encodeGob(slim, { Action: "get", Service: "*" })), {
      Action: "get",
      Node: { DC: "", Service: "", NID: "", RPC: { Protocol: "", Addr: "", Params: null }, ExtraInfo: null },
      Service: "*",
      Params: null,
    });
  });

  it("rejects a field of the wrong Go type (as Go would)", () => {
    const bad = gobStruct("Request", [{ name: "Action", type: "int" }]);
    throws(() => decodeRequest(encodeGob(bad, { Action: 3 })), GobError);
  });

  it("keeps hostile map keys as plain data", () => {
    const r = decodeRequest(encodeRequest({ Action: "get", Params: { ["__proto__"]: "x", constructor: "y" } as any }));
    equal(Object.getPrototypeOf(r.Params), Object.prototype);
    deepStrictEqual(Object.keys(r.Params!).sort(), ["__proto__", "constructor"]);
    equal(Object.getOwnPropertyDescriptor(r.Params, "__proto__")?.value, "x");
  });

  it("decodes top-level non-struct values and recursive types", () => {
    deepStrictEqual(decodeGob(encodeGob("string", "hi")).value, "hi");
    const tree: { kind: "struct"; name: string; fields: { name: string; type: GobType }[] } = { kind: "struct", name: "T", fields: [] };
    tree.fields.push({ name: "Name", type: "string" }, { name: "Kids", type: gobSlice("[]main.T", tree) });
    const v = decodeGob(encodeGob(tree, { Name: "root", Kids: [{ Name: "a" }, { Name: "b", Kids: [{ Name: "c" }] }] })).value as any;
    equal(v.Kids[1].Kids[0].Name, "c");
  });
});
