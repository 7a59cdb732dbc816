/**
 * The gRPC status fields of a call's end (`grpc-status`, `grpc-message`, `grpc-status-details-bin`),
 * used by gRPC-Web trailers, grpc-websockets trailers and HTTP/2 trailers alike.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import type { ConnectError } from "@connectrpc/connect";
import { StatusSchema } from "../gen/google/rpc/status_pb.js";
import { base64Encode } from "./base64.js";

/**
 * Percent-encodes a status message as gRPC asks: UTF-8, with `%` and every byte outside 0x20–0x7E
 * escaped. Readable text stays readable; `decodeURIComponent` reverses it.
 */
export function encodeGrpcMessage(message: string): string {
  let plain = true;
  for (let i = 0; i < message.length; i++) {
    const c = message.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x25) {
      plain = false;
      break;
    }
  }
  if (plain) return message;
  let out = "";
  for (const b of new TextEncoder().encode(message)) {
    out += b < 0x20 || b > 0x7e || b === 0x25 ? "%" + (b < 16 ? "0" : "") + b.toString(16).toUpperCase() : String.fromCharCode(b);
  }
  return out;
}

/** The status fields for an end: `grpc-status` always, `grpc-message` and details for errors. */
export function grpcStatusEntries(error: ConnectError | undefined): [string, string][] {
  if (error === undefined) return [["grpc-status", "0"]];
  const out: [string, string][] = [["grpc-status", String(error.code)]];
  if (error.rawMessage !== "") out.push(["grpc-message", encodeGrpcMessage(error.rawMessage)]);
  if (error.details.length > 0) {
    const status = create(StatusSchema, {
      code: error.code,
      message: error.rawMessage,
      details: error.details.map((d) =>
        "desc" in d ? anyPack(d.desc, create(d.desc, d.value)) : { typeUrl: `type.googleapis.com/${d.type}`, value: d.value },
      ),
    });
    out.push(["grpc-status-details-bin", base64Encode(toBinary(StatusSchema, status))]);
  }
  return out;
}
