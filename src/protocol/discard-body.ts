/**
 * Letting go of a request body that the call no longer needs. Runtime-neutral.
 */

/** Bytes read and thrown away before a body is cancelled instead (Go's net/http keeps 256 KiB). */
export const maxDiscardBytes = 8 * 1024 * 1024;

/**
 * Reads and discards what is left of a request body in the background, then releases it. An HTTP/1.1
 * connection carries the next request only once the current body has been read to its end: a server
 * that stops reading mid-body must close the connection — @hono/node-server does it 500 ms later, even
 * when the connection is serving another request by then. A body longer than `maxBytes` is cancelled.
 */
export function discardBody(reader: ReadableStreamDefaultReader<Uint8Array>, maxBytes = maxDiscardBytes): void {
  void drainBody(reader, maxBytes);
}

/**
 * {@link discardBody}, whose promise settles once the body has been read to its end or cancelled. It
 * never rejects: a read that fails means the client went away, and the call it belonged to is over,
 * so there is nothing left to tell.
 */
export async function drainBody(reader: ReadableStreamDefaultReader<Uint8Array>, maxBytes = maxDiscardBytes): Promise<void> {
  try {
    let n = 0;
    for (;;) {
      const r = await reader.read();
      if (r.done) return;
      n += r.value.byteLength;
      if (n > maxBytes) break;
    }
    await reader.cancel();
  } catch {
    // The body failed or was cancelled: nothing is left to read.
  }
}
