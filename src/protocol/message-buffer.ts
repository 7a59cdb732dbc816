/**
 * Buffers for request messages that are assembled from several chunks anyway (a body read in pieces,
 * an envelope split across reads): allocated with a few spare bytes in front, so that the nats-grpc
 * client can write its Data envelope's header there and publish the message without copying it
 * (src/nrpc/envelope.ts, `encodeData`). Saves one copy of every such message (1 MiB per 1 MiB call).
 * Runtime-neutral.
 */

/** Spare bytes in front of a message: a Data envelope header is at most 1 + 5 + 1 + 5 = 12 bytes. */
export const messageHeadroom = 12;

/** Buffers made by {@link allocMessage}: the offset of the message in them (= the spare bytes before it). */
const spare = new WeakMap<ArrayBufferLike, number>();

/** A zeroed message buffer of `n` bytes with {@link messageHeadroom} spare bytes in front (fill it, then treat it as read-only). */
export function allocMessage(n: number): Uint8Array {
  const buf = new Uint8Array(messageHeadroom + n);
  spare.set(buf.buffer, messageHeadroom);
  return buf.subarray(messageHeadroom);
}

/**
 * The spare bytes in front of `data` that nothing else uses: {@link messageHeadroom} when `data` is a
 * whole message from {@link allocMessage} (not a part of one), else 0. Whoever writes there writes the
 * same bytes for the same message each time (a Data header depends only on its length).
 */
export function headroomOf(data: Uint8Array): number {
  const at = spare.get(data.buffer);
  return at !== undefined && data.byteOffset === at && at + data.byteLength === data.buffer.byteLength ? at : 0;
}
