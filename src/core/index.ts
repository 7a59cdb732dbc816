/**
 * The gateway's shared vocabulary, runtime- and protocol-neutral: a call as every wire-protocol
 * adapter hands it to the Director ({@link Call}, {@link CallResponder}, {@link CallHandler}), its
 * metadata ({@link Metadata}), and a backend node as discovery, the Director and the balancer see it
 * ({@link NodeInfo}).
 */
export { CallAbort, type CallSignal } from "./call-signal.js";
export type { Call, CallHandler, CallResponder, CallShape, WireProtocol } from "./call.js";
export { type Metadata, createMetadata, appendMetadata, firstValue } from "./metadata.js";
export type { NodeInfo } from "./node-info.js";
