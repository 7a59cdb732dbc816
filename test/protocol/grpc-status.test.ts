/**
 * gRPC status entries (src/protocol/grpc-status.ts): the percent-encoded grpc-message and error details
 * as grpc-status-details-bin.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { create, toBinary, fromBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { EchoRequestSchema } from "../../src/gen/demo/v1/echo_pb.js";
import { StatusSchema } from "../../src/gen/google/rpc/status_pb.js";
import { grpcStatusEntries, encodeGrpcMessage, base64Decode } from "../../src/protocol/index.js";

test("gRPC status entries: percent-encoded message, details as grpc-status-details-bin", () => {
  assert.deepEqual(grpcStatusEntries(undefined), [["grpc-status", "0"]]);
  assert.equal(encodeGrpcMessage("plain text"), "plain text");
  assert.equal(encodeGrpcMessage("100% ü\n"), "100%25 %C3%BC%0A");
  assert.equal(decodeURIComponent(encodeGrpcMessage("100% ü\n")), "100% ü\n");
  const err = new ConnectError("denied", Code.PermissionDenied);
  err.details.push({ type: "demo.v1.EchoRequest", value: toBinary(EchoRequestSchema, create(EchoRequestSchema, { message: "d" })) });
  const entries = Object.fromEntries(grpcStatusEntries(err));
  assert.equal(entries["grpc-status"], "7");
  assert.equal(entries["grpc-message"], "denied");
  const status = fromBinary(StatusSchema, base64Decode(entries["grpc-status-details-bin"]!));
  assert.equal(status.code, 7);
  assert.equal(status.details[0]!.typeUrl, "type.googleapis.com/demo.v1.EchoRequest");
  assert.equal(fromBinary(EchoRequestSchema, status.details[0]!.value).message, "d");
});
