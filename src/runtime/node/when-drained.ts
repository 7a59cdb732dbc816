/**
 * Waiting out backpressure on a Node writable (an HTTP/2 stream, a `ServerResponse`).
 */
import type { EventEmitter } from "node:events";

/** Resolves once `stream` emits `drain` (room to write again) or `close` (nothing more to wait for). */
export function whenDrained(stream: Pick<EventEmitter, "on" | "off">): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      stream.off("drain", done);
      stream.off("close", done);
      resolve();
    };
    stream.on("drain", done);
    stream.on("close", done);
  });
}
