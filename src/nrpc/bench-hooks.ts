/**
 * Measurement hooks for the benchmarks (bench/procs/*): the hops of one call through the gateway and
 * a nats-grpc node, for the latency breakdown at 1 in flight. Off unless a benchmark process installs
 * a recorder: off, each hook costs one read of a module variable and a compare (`hopRecorder?.(…)`).
 * Runtime-neutral.
 */

/**
 * A hop of one call, in the order a unary call passes them. The gateway's HTTP hops (parsed, body
 * read, response written) are marked by the bench process from Node's own events, not here.
 * - `director-done`: route, auth and balancing done, the nats-grpc call about to open;
 * - `published`: the call's envelopes handed to nats.js (the outbox's end-of-turn flush);
 * - `reply-received`: the first response envelope read from NATS;
 * - `node-received`: a node read the Call envelope;
 * - `node-handler-done`: the node's handler returned;
 * - `node-replied`: the node's reply envelopes handed to nats.js.
 */
export type Hop = "director-done" | "published" | "reply-received" | "node-received" | "node-handler-done" | "node-replied";

/** Told of each hop as it happens (the recorder reads the clock). */
export type HopRecorder = (hop: Hop) => void;

/** The installed hop recorder; undefined (the default) = off. Call sites read it as `hopRecorder?.(hop)`. */
export let hopRecorder: HopRecorder | undefined;

/** Installs (or, with undefined, removes) the hop recorder. For benchmark processes only. */
export function setHopRecorder(r: HopRecorder | undefined): void {
  hopRecorder = r;
}
