/**
 * nats-grpc envelopes (`nrpc.Request`, `nrpc.Response`): one envelope is one NATS message payload.
 * Encoding goes through the protoc-gen-es schemas; this file only builds the few shapes we send.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { ConnectError } from "@connectrpc/connect";
import { StatusSchema } from "../gen/google/rpc/status_pb.js";
import {
  MetadataSchema,
  RequestSchema,
  ResponseSchema,
  type Metadata as WireMetadata,
  type Request,
  type Response,
} from "../gen/nrpc/nrpc_pb.js";
import type { Metadata } from "../protocol/metadata.js";

export type { Request, Response } from "../gen/nrpc/nrpc_pb.js";

/** Metadata → nrpc.Metadata, or undefined when empty (Go's MakeMetadata omits empty metadata). */
export function toWireMetadata(md: Metadata | undefined): WireMetadata | undefined {
  if (!md || md.size === 0) return undefined;
  const out: Record<string, { $typeName: "nrpc.Strings"; values: string[] }> = {};
  for (const [k, values] of md) out[k] = { $typeName: "nrpc.Strings", values };
  return create(MetadataSchema, { md: out });
}

/** nrpc.Metadata → Metadata (lower-cased keys; values appended as Go does). */
export function fromWireMetadata(wire: WireMetadata | undefined): Metadata {
  const md: Metadata = new Map();
  if (!wire) return md;
  for (const k of Object.keys(wire.md)) {
    const values = wire.md[k]?.values ?? [];
    const key = k.toLowerCase();
    const prev = md.get(key);
    if (prev) prev.push(...values);
    else md.set(key, values);
  }
  return md;
}

function wireStatus(code: number, message: string) {
  return create(StatusSchema, { code, message });
}

/** Request.call */
export function encodeCall(method: string, nid: string, md: Metadata | undefined): Uint8Array {
  return toBinary(
    RequestSchema,
    create(RequestSchema, { type: { case: "call", value: { method, nid, metadata: toWireMetadata(md) } } }),
  );
}

/** Request.data / Response.data share one shape: field 3 holding Data{data}. */
export function encodeData(data: Uint8Array): Uint8Array {
  return toBinary(RequestSchema, create(RequestSchema, { type: { case: "data", value: { data } } }));
}

/** Request.end{} (half-close) or Request.end{status} (cancel; code must not be 0). */
export function encodeRequestEnd(code?: number, message = ""): Uint8Array {
  const status = code ? wireStatus(code, message) : undefined;
  return toBinary(RequestSchema, create(RequestSchema, { type: { case: "end", value: { status } } }));
}

/** Response.begin{header, nid} */
export function encodeBegin(header: Metadata | undefined, nid: string): Uint8Array {
  return toBinary(
    ResponseSchema,
    create(ResponseSchema, { type: { case: "begin", value: { header: toWireMetadata(header), nid } } }),
  );
}

/** Response.end: status absent for success (never code 0), plus trailers. */
export function encodeResponseEnd(error: ConnectError | undefined, trailer: Metadata | undefined): Uint8Array {
  const status = error ? wireStatus(error.code, error.rawMessage) : undefined;
  return toBinary(
    ResponseSchema,
    create(ResponseSchema, { type: { case: "end", value: { status, trailer: toWireMetadata(trailer) } } }),
  );
}

/** Decodes a client→server envelope; throws on malformed bytes. */
export function decodeRequest(bytes: Uint8Array): Request {
  return fromBinary(RequestSchema, bytes);
}

/** Decodes a server→client envelope; throws on malformed bytes. */
export function decodeResponse(bytes: Uint8Array): Response {
  return fromBinary(ResponseSchema, bytes);
}
