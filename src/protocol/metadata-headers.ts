/**
 * Request headers → {@link Metadata} and metadata → response headers, with the protocol and
 * hop-by-hop headers removed, values validated, and a size limit.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { RequestHeaders } from "./header-list.js";
import type { Metadata } from "../core/metadata.js";

/**
 * Header names that belong to the HTTP connection or to a wire protocol, never to the call's metadata.
 * They are dropped from requests and never written from metadata into responses.
 */
const protocolHeaders = new Set([
  "accept",
  "accept-encoding",
  "connection",
  "content-encoding",
  "content-length",
  "content-type",
  "grpc-accept-encoding",
  "grpc-encoding",
  "grpc-message",
  "grpc-message-type",
  "grpc-status",
  "grpc-status-details-bin",
  "grpc-timeout",
  "host",
  "http2-settings",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "x-grpc-web",
  "x-user-agent",
]);
const protocolPrefixes = ["connect-", "sec-websocket-", "access-control-", ":"];

/** True for a name that is a protocol or hop-by-hop header rather than metadata (lower-case input). */
export function isProtocolHeader(name: string): boolean {
  if (protocolHeaders.has(name)) return true;
  for (const p of protocolPrefixes) if (name.startsWith(p)) return true;
  return false;
}

/** True for a valid metadata value: printable ASCII 0x20–0x7E (no CR, LF, TAB, NUL or non-ASCII). */
export function isValidMetadataValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

/** True for a valid metadata key: a non-empty lower-case HTTP token. */
export function isValidMetadataKey(key: string): boolean {
  if (key.length === 0) return false;
  for (let i = 0; i < key.length; i++) {
    if (!tokenChar[key.charCodeAt(i)]) return false;
  }
  return true;
}

const tokenChar = new Uint8Array(128);
for (const c of "abcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`|~") tokenChar[c.charCodeAt(0)] = 1;

/**
 * Accumulates validated request metadata under a size limit (key + value lengths).
 * Throws INVALID_ARGUMENT for a bad key or value, RESOURCE_EXHAUSTED past the limit.
 */
export class MetadataCollector {
  readonly metadata: Metadata = new Map();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  /**
   * Adds one raw header (name lower-cased by the caller). Protocol headers are skipped. A `-bin` value
   * holding several comma-joined base64 values is split; other values are kept as they came.
   */
  add(key: string, value: string): void {
    if (isProtocolHeader(key)) return;
    if (!isValidMetadataKey(key)) throw new ConnectError(`invalid metadata key: ${JSON.stringify(key.slice(0, 64))}`, Code.InvalidArgument);
    if (!isValidMetadataValue(value)) throw new ConnectError(`invalid value for metadata key ${key}: CR, LF or a non-printable character`, Code.InvalidArgument);
    this.bytes += key.length + value.length;
    if (this.bytes > this.maxBytes) throw new ConnectError(`request metadata is larger than the limit of ${this.maxBytes} bytes`, Code.ResourceExhausted);
    const list = this.metadata.get(key);
    if (key.endsWith("-bin") && value.includes(",")) {
      const parts = value.split(",").map((p) => p.trim()).filter((p) => p !== "");
      if (list) list.push(...parts);
      else this.metadata.set(key, parts);
    } else if (list) list.push(value);
    else this.metadata.set(key, [value]);
  }
}

/**
 * Converts fetch request headers into call metadata: protocol and hop-by-hop headers removed,
 * values validated (INVALID_ARGUMENT), size limited (RESOURCE_EXHAUSTED). `-bin` values stay base64.
 */
export function headersToMetadata(headers: Pick<RequestHeaders, "forEach">, maxBytes: number): Metadata {
  const c = new MetadataCollector(maxBytes);
  headers.forEach((value, key) => c.add(key, value));
  return c.metadata;
}

/** Where response headers are appended: a fetch `Headers`, or a {@link HeaderList}. */
export interface HeaderTarget {
  append(name: string, value: string): void;
}

/**
 * Appends metadata to response headers, optionally with a name prefix (Connect's `trailer-`).
 * Protocol headers, invalid keys and invalid values are skipped (a response cannot be refused for them).
 */
export function appendMetadataToHeaders(target: HeaderTarget, md: Metadata | undefined, prefix = ""): void {
  if (md === undefined) return;
  for (const [key, values] of md) {
    if (isProtocolHeader(key) || !isValidMetadataKey(key)) continue;
    for (const v of values) if (isValidMetadataValue(v)) target.append(prefix + key, v);
  }
}

/** Appends the metadata carried by a ConnectError (its `metadata` Headers) to response headers. */
export function appendErrorMetadataToHeaders(target: HeaderTarget, error: ConnectError | undefined, prefix = ""): void {
  if (error === undefined) return;
  error.metadata.forEach((v, key) => {
    if (!isProtocolHeader(key) && isValidMetadataValue(v)) target.append(prefix + key, v);
  });
}
