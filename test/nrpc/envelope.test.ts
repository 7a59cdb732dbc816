// Golden bytes: every nats-grpc envelope vector decodes and re-encodes to the same bytes, and the
// envelopes this implementation builds equal the vectors byte for byte.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { RequestSchema, ResponseSchema } from "../../src/gen/nrpc/nrpc_pb.js";
import { encodeBegin, encodeCall, encodeData, encodeRequestEnd, encodeResponseEnd } from "../../src/nrpc/envelope.js";

const vectors: { name: string; message: string; hex: string }[] = JSON.parse(
  readFileSync(new URL("../fixtures/nrpc-vectors.json", import.meta.url), "utf8"),
).vectors;
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const byName = (n: string) => {
  const v = vectors.find((x) => x.name === n);
  assert.ok(v, `vector ${n}`);
  return v.hex;
};

test("every vector decodes and re-encodes to the same bytes", () => {
  assert.ok(vectors.length >= 10);
  for (const v of vectors) {
    const schema = v.message === "nrpc.Request" ? RequestSchema : ResponseSchema;
    const msg = fromBinary(schema, Buffer.from(v.hex, "hex"));
    assert.notEqual(msg.type.case, undefined, v.name);
    assert.equal(hex(toBinary(schema, msg)), v.hex, v.name);
  }
});

test("built envelopes equal the golden bytes", () => {
  assert.equal(hex(encodeCall("nrpc.sfu-AbC123.rtc.RTC.Signal", "signal-XyZ789", undefined)), byName("request-call-stream"));
  assert.equal(
    hex(encodeCall("/room.RoomService/GetRooms", "", new Map([["authorization", ["tok"]]]))),
    byName("request-call-unary-md"),
  );
  assert.equal(
    hex(encodeCall("nrpc.room-x1Y2z3.room.RoomSignal.Signal", "edge-1", new Map([["x-room", ["r1", "r2"]]]))),
    byName("request-call-md-multi"),
  );
  assert.equal(hex(encodeData(Buffer.from("0a03616263", "hex"))), byName("request-data"));
  assert.equal(hex(encodeData(new Uint8Array(0))), byName("request-data-empty"));
  assert.equal(hex(encodeRequestEnd()), byName("request-end-halfclose"));
  assert.equal(hex(encodeRequestEnd(Code.Canceled, "canceled")), byName("request-end-cancel"));
  assert.equal(hex(encodeRequestEnd(Code.DeadlineExceeded, "deadline exceeded")), byName("request-end-deadline"));
  assert.equal(hex(encodeBegin(new Map([["k", ["v"]]]), "sfu-AbC123")), byName("response-begin"));
  assert.equal(hex(encodeBegin(undefined, "sfu-AbC123")), byName("response-begin-nid-only"));
  assert.equal(hex(encodeResponseEnd(undefined, undefined)), "2200");
  assert.equal(hex(encodeResponseEnd(new ConnectError("Unimplemented", Code.Unimplemented), undefined)), "22130a11080c120d556e696d706c656d656e746564");
});

test("success and half-close never carry a status (code 0 is never emitted)", () => {
  const end = fromBinary(ResponseSchema, encodeResponseEnd(undefined, new Map([["t", ["1"]]])));
  assert.equal(end.type.case, "end");
  assert.equal(end.type.case === "end" && end.type.value.status, undefined);
  const half = fromBinary(RequestSchema, encodeRequestEnd(0 as Code));
  assert.equal(half.type.case === "end" && half.type.value.status, undefined);
});
