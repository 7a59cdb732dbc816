/**
 * Reading a whole request body of the seam (src/protocol/universal.ts) with a size limit, whatever
 * the converter gave: its own `readAll`, a fetch `ReadableStream`, or an async iterable. Runtime-neutral.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { concatBytes, messageTooLarge } from "./compression.js";
import { discardBody } from "./discard-body.js";
import type { UniversalRequest } from "./universal.js";

const empty = new Uint8Array(0);

/**
 * The whole body: RESOURCE_EXHAUSTED as soon as it passes `maxBytes` (the rest is dropped in the
 * background, so that an HTTP/1.1 connection stays usable: a `ReadableStream` here, an iterable by its
 * converter), CANCELLED when a read fails (the client went away).
 */
export function readBody(body: UniversalRequest["body"], maxBytes: number): Promise<Uint8Array> {
  if (body === null) return Promise.resolve(empty);
  if ("getReader" in body) return readChunks(readerChunks(body.getReader()), maxBytes);
  if (body.readAll !== undefined) return body.readAll(maxBytes);
  return readChunks(body[Symbol.asyncIterator](), maxBytes);
}

/** A stream reader as an iterator whose `return()` reads and drops the rest ({@link discardBody}). */
function readerChunks(reader: ReadableStreamDefaultReader<Uint8Array>): AsyncIterator<Uint8Array> {
  return {
    next: () => reader.read() as Promise<IteratorResult<Uint8Array>>,
    return: () => {
      discardBody(reader);
      return Promise.resolve({ done: true, value: undefined });
    },
  };
}

async function readChunks(it: AsyncIterator<Uint8Array>, maxBytes: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    let r: IteratorResult<Uint8Array>;
    try {
      r = await it.next();
    } catch (e) {
      throw new ConnectError(`reading the request body failed: ${e instanceof Error ? e.message : String(e)}`, Code.Canceled);
    }
    if (r.done) break;
    total += r.value.byteLength;
    if (total > maxBytes) {
      it.return?.()?.catch(() => {});
      throw messageTooLarge(maxBytes);
    }
    chunks.push(r.value);
  }
  return chunks.length === 0 ? empty : concatBytes(chunks, total);
}
