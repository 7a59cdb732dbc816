/**
 * nats-discovery's messages in gob (src/discovery/messages.ts) against golden vectors (Go 1.19
 * encoding/gob): decode to the Go value, re-encode to the same bytes.
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { decodeGetResponse, decodeGob, decodeRequest, decodeResponse, encodeGetResponse, encodeGob, encodeRequest, encodeResponse, GobTypeIds, gobSlice, gobStruct, nodeGobType, requestGobType, responseGobType } from "../../src/discovery/index.js";
import { fromHex, toHex } from "./helpers.js";

interface Vector {
  name: string;
  go_type: "Request" | "Response" | "GetResponse";
  value: any;
  hex: string;
}
const vectors: Vector[] = JSON.parse(readFileSync(new URL("../fixtures/discovery-gob-vectors.json", import.meta.url), "utf8")).vectors;

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
