/**
 * Connect's EndStreamResponse (the last envelope of a streaming response, flag 0x02) and error JSON.
 */
import type { ConnectError } from "@connectrpc/connect";
import { errorToJson, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import type { Metadata } from "../core/metadata.js";
import { isProtocolHeader, isValidMetadataKey, isValidMetadataValue } from "../protocol/metadata-headers.js";

const encoder = new TextEncoder();
const emptyEndStream = encoder.encode("{}");

/**
 * Serializes `{"error"?: {...}, "metadata"?: {"key": ["v", ...]}}`: the trailers and the error's own
 * metadata, protocol keys and invalid values left out. Error messages are raw UTF-8 (JSON-escaped).
 */
export function encodeEndStream(error: ConnectError | undefined, trailers: Metadata | undefined): Uint8Array<ArrayBuffer> {
  const md = Object.create(null) as Record<string, string[]>; // no prototype: "__proto__" is a plain key
  let any = false;
  if (trailers !== undefined) {
    for (const [k, values] of trailers) {
      if (isProtocolHeader(k) || !isValidMetadataKey(k)) continue;
      const ok = values.filter(isValidMetadataValue);
      if (ok.length === 0) continue;
      md[k] = ok;
      any = true;
    }
  }
  error?.metadata.forEach((v, k) => {
    if (isProtocolHeader(k) || !isValidMetadataValue(v)) return;
    (md[k] ??= []).push(v);
    any = true;
  });
  if (error === undefined && !any) return emptyEndStream;
  const json: Record<string, unknown> = {};
  if (error !== undefined) json["error"] = errorToJson(error, undefined);
  if (any) json["metadata"] = md;
  return encoder.encode(JSON.stringify(json));
}

/** Serializes a Connect error body: `{"code": "...", "message": "...", "details": [...]}`. */
export function encodeErrorJson(error: ConnectError): Uint8Array {
  return errorToJsonBytes(error, undefined);
}
