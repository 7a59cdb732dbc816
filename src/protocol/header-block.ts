/**
 * HTTP/1-style header blocks (`key: value\r\n` lines), as gRPC-Web trailer frames and the
 * grpc-websockets header frames carry them.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { Metadata } from "../core/metadata.js";
import { MetadataCollector, isProtocolHeader, isValidMetadataKey, isValidMetadataValue } from "./metadata-headers.js";

/** The parsed header block: call metadata, plus the protocol headers that were set aside. */
export interface ParsedHeaderBlock {
  readonly metadata: Metadata;
  /** Protocol headers (content-type, grpc-timeout, …), first value each. */
  readonly protocol: Map<string, string>;
}

/**
 * Parses a header block: lines ending in CRLF (a bare LF is tolerated), no blank terminator needed;
 * each line `key: value`, the key an HTTP token (lower-cased), the value printable ASCII, both trimmed.
 * A block larger than `maxBytes` is refused (RESOURCE_EXHAUSTED) before it is decoded; malformed lines
 * and bad characters give INVALID_ARGUMENT. Only ConnectErrors are thrown.
 */
export function parseHeaderBlock(bytes: Uint8Array, maxBytes: number): ParsedHeaderBlock {
  if (bytes.byteLength > maxBytes) throw new ConnectError(`request metadata is larger than the limit of ${maxBytes} bytes`, Code.ResourceExhausted);
  const collector = new MetadataCollector(maxBytes);
  const protocol = new Map<string, string>();
  let lineStart = 0;
  for (let i = 0; i <= bytes.byteLength; i++) {
    const b = i < bytes.byteLength ? bytes[i]! : 0x0a;
    if (b === 0x0a) {
      let end = i;
      if (end > lineStart && bytes[end - 1] === 0x0d) end--;
      if (end > lineStart) parseLine(bytes, lineStart, end, collector, protocol);
      lineStart = i + 1;
    } else if (b > 0x7e || (b < 0x20 && b !== 0x09 && b !== 0x0d)) {
      throw new ConnectError(`protocol error: invalid byte 0x${b.toString(16)} in header block`, Code.InvalidArgument);
    }
  }
  return { metadata: collector.metadata, protocol };
}

function parseLine(bytes: Uint8Array, start: number, end: number, collector: MetadataCollector, protocol: Map<string, string>): void {
  let line = "";
  for (let i = start; i < end; i++) line += String.fromCharCode(bytes[i]!);
  const colon = line.indexOf(":");
  if (colon <= 0) throw new ConnectError("protocol error: header line without a key", Code.InvalidArgument);
  const key = line.slice(0, colon).trim().toLowerCase();
  const value = line.slice(colon + 1).trim();
  if (!isValidMetadataKey(key)) throw new ConnectError(`protocol error: invalid header key ${JSON.stringify(key.slice(0, 64))}`, Code.InvalidArgument);
  if (isProtocolHeader(key)) {
    if (!isValidMetadataValue(value)) throw new ConnectError(`invalid value for header ${key}`, Code.InvalidArgument);
    if (!protocol.has(key)) protocol.set(key, value);
    return;
  }
  collector.add(key, value);
}

/**
 * Serializes header-block lines: `first` entries as given (the caller's own protocol fields), then each
 * metadata source with protocol keys, invalid keys and invalid values skipped. One line per value.
 */
export function encodeHeaderBlock(first: Iterable<[string, string]>, ...sources: (Metadata | Headers | undefined)[]): Uint8Array<ArrayBuffer> {
  let s = "";
  for (const [k, v] of first) s += k + ": " + v + "\r\n";
  for (const src of sources) {
    if (src === undefined) continue;
    if (src instanceof Headers) {
      src.forEach((v, k) => {
        if (!isProtocolHeader(k) && isValidMetadataValue(v)) s += k + ": " + v + "\r\n";
      });
      continue;
    }
    for (const [k, values] of src) {
      if (isProtocolHeader(k) || !isValidMetadataKey(k)) continue;
      for (const v of values) if (isValidMetadataValue(v)) s += k + ": " + v + "\r\n";
    }
  }
  return asciiBytes(s);
}

/** A string of code units < 0x80 as bytes (cheaper than TextEncoder for short ASCII text). */
export function asciiBytes(s: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
