/**
 * A response body (ReadableStream) with backpressure: writes are queued, and while the queue is above
 * the high-water mark `write` returns a promise that resolves once the reader has taken enough.
 * A slow client therefore makes the producer wait instead of the gateway buffering without bound.
 */

/** The writing side of a backpressured response body. */
export interface ResponseStreamWriter {
  /** The body to put into the `Response`. */
  readonly stream: ReadableStream<Uint8Array>;
  /** Queues a chunk (always). Returns a promise while the queue is above the high-water mark. */
  write(chunk: Uint8Array): void | Promise<void>;
  /** Ends the body after the queued chunks. */
  close(): void;
  /** True once closed or cancelled by the reader. */
  readonly closed: boolean;
}

/**
 * Creates a response body. Each chunk counts its length plus `highWaterMarkBytes / 64`, so the mark is
 * reached by about 1 MiB of data or 64 small messages (defaults). `encode` transforms each chunk as it
 * is queued (gRPC-Web text: one padded base64 segment per chunk). `onCancel` runs when the reader
 * cancels (the client went away).
 */
export function createResponseStream(
  highWaterMarkBytes: number,
  onCancel: (reason: unknown) => void,
  encode?: (chunk: Uint8Array) => Uint8Array,
): ResponseStreamWriter {
  const overhead = Math.max(1, Math.floor(highWaterMarkBytes / 64));
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let closed = false;
  let waiter: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  const release = () => {
    const w = wake;
    waiter = undefined;
    wake = undefined;
    w?.();
  };
  const stream = new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
      },
      pull() {
        if (wake !== undefined) release();
      },
      cancel(reason) {
        if (closed) return;
        closed = true;
        release();
        onCancel(reason);
      },
    },
    { highWaterMark: highWaterMarkBytes, size: (chunk) => chunk.byteLength + overhead },
  );
  return {
    stream,
    get closed() {
      return closed;
    },
    write(chunk) {
      if (closed) return;
      controller.enqueue(encode ? encode(chunk) : chunk);
      if ((controller.desiredSize ?? 1) > 0) return;
      if (waiter === undefined) waiter = new Promise<void>((r) => (wake = r));
      return waiter;
    },
    close() {
      if (closed) return;
      closed = true;
      controller.close();
      release();
    },
  };
}
