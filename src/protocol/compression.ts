/**
 * gzip with the Web-standard CompressionStream / DecompressionStream (Node ≥ 18, Deno, Workers),
 * decompression bounded by a size limit, and encoding negotiation.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { allocMessage } from "./message-buffer.js";

/** The encodings this gateway can decode and produce besides identity. */
export type Encoding = "gzip";

/** The request encodings this gateway accepts, as `grpc-accept-encoding` lists them. */
export const acceptedEncodings = "gzip";

/**
 * Validates a requested content/message encoding: undefined for identity, "gzip", or an UNIMPLEMENTED
 * error naming the supported encodings (as the gRPC and Connect specs ask).
 */
export function parseRequestEncoding(value: string | null): Encoding | undefined {
  if (value === null) return undefined;
  const v = value.trim().toLowerCase();
  if (v === "" || v === "identity") return undefined;
  if (v === "gzip") return "gzip";
  throw new ConnectError(`unsupported compression "${value.slice(0, 32)}": supported encodings are gzip, identity`, Code.Unimplemented);
}

/** True when an accept-encoding list (comma-separated, optional `;q=` parameters) accepts gzip. */
export function acceptsGzip(value: string | null): boolean {
  if (value === null) return false;
  for (const part of value.split(",")) {
    const [name, ...params] = part.split(";");
    if (name!.trim().toLowerCase() !== "gzip") continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    return q === undefined || parseFloat(q.slice(2)) > 0;
  }
  return false;
}

/** gzip-compresses bytes. */
export async function gzip(data: Uint8Array): Promise<Uint8Array> {
  return collect(new CompressionStream("gzip"), data, Infinity);
}

/**
 * gunzips bytes, failing with RESOURCE_EXHAUSTED as soon as the output passes `maxBytes`
 * (a small bomb cannot make the gateway buffer more), INVALID_ARGUMENT for corrupt input.
 */
export async function gunzip(data: Uint8Array, maxBytes: number): Promise<Uint8Array> {
  return collect(new DecompressionStream("gzip"), data, maxBytes);
}

async function collect(ts: CompressionStream | DecompressionStream, data: Uint8Array, maxBytes: number): Promise<Uint8Array> {
  const writer = ts.writable.getWriter();
  writer.write(data as Uint8Array<ArrayBuffer>).catch(() => {});
  writer.close().catch(() => {});
  const reader = ts.readable.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      total += r.value.byteLength;
      if (total > maxBytes) {
        reader.cancel().catch(() => {});
        throw new ConnectError(`decompressed message is larger than the limit of ${maxBytes} bytes`, Code.ResourceExhausted);
      }
      chunks.push(r.value);
    }
  } catch (e) {
    if (e instanceof ConnectError) throw e;
    throw new ConnectError(`invalid gzip data: ${e instanceof Error ? e.message : String(e)}`, Code.InvalidArgument);
  }
  return concatBytes(chunks, total);
}

/** Concatenates chunks (returns the only chunk as is). */
export function concatBytes(chunks: Uint8Array[], total?: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = allocMessage(total ?? chunks.reduce((n, c) => n + c.byteLength, 0)); // nrpc writes its header in front: no second copy
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.byteLength;
  }
  return out;
}

/** The error of a request message (or body) larger than `maxBytes`: RESOURCE_EXHAUSTED. */
export function messageTooLarge(maxBytes: number): ConnectError {
  return new ConnectError(`message is larger than the limit of ${maxBytes} bytes`, Code.ResourceExhausted);
}
