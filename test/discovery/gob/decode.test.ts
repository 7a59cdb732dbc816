/**
 * The gob decoder (src/discovery/gob/decode.ts): goes by name, accepts any ids, definitions in any order
 * and unknown fields, and rejects what Go rejects.
 */
import { deepStrictEqual, equal, ok, throws } from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeGob, decodeRequest, encodeGob, encodeRequest, GobError, GobTypeIds, gobSlice, gobStruct, type GobType } from "../../../src/discovery/index.js";

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
