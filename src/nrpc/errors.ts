/**
 * Why an nrpc call ended, for the code that decides on it (the Director's retry, the balancer's
 * outlier detection), as classes in the manner of nats.js `errors.ts`: never read from message text.
 *
 * A call ends with a ConnectError (the status its client is told); when the nrpc client knows why, the
 * reason is that error's `cause`, as nats.js puts a `NoRespondersError` under its `RequestError`. The
 * reasons are not ConnectError subclasses: ConnectError's `instanceof` accepts any error named
 * "ConnectError", so a subclass test would match every ConnectError. Runtime-neutral.
 */
import { Code, ConnectError } from "@connectrpc/connect";

/**
 * The call never reached a node: NATS had no subscriber for ANY envelope it published (a 503 for each),
 * so no node ever had it. It may be retried on another node. Ends UNAVAILABLE.
 */
export class NeverReachedError extends Error {
  constructor(
    /** The node the call was sent to. */
    readonly nid: string,
    /** The nrpc subject that had no subscriber. */
    readonly subject: string,
    message = `no responders for ${subject}`,
  ) {
    super(message);
    this.name = "NeverReachedError";
  }
}

/**
 * A call that never reached a node (as {@link NeverReachedError}: it may be retried elsewhere) to a node
 * that is alive — it answers calls of another service it serves — but does not serve this call's
 * service. Not a fault of the node. Ends UNIMPLEMENTED.
 */
export class NotServedError extends NeverReachedError {
  constructor(
    nid: string,
    subject: string,
    /** The full service name, `pkg.Service`. */
    readonly service: string,
  ) {
    super(nid, subject, `node ${nid} does not serve ${service}`);
    this.name = "NotServedError";
  }
}

/**
 * The node stopped answering during the call: some envelope found no subscriber after earlier ones were
 * delivered, so the node may have served the call. Never retried (it could run twice). Ends UNAVAILABLE.
 */
export class StoppedAnsweringError extends Error {
  constructor(
    readonly nid: string,
    readonly subject: string,
  ) {
    super(`node ${nid} stopped answering on ${subject} (no responders)`);
    this.name = "StoppedAnsweringError";
  }
}

/** Discovery said the node went down: its calls end at once, the node is not told. Ends UNAVAILABLE. */
export class NodeDownError extends Error {
  constructor(
    readonly nid: string,
    message = `node ${nid} went away`,
  ) {
    super(message);
    this.name = "NodeDownError";
  }
}

/** The gateway's NATS connection is down, lost or closed: no envelope can go out. Ends UNAVAILABLE. */
export class NatsUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NatsUnavailableError";
  }
}

/**
 * An envelope is larger than the connected NATS server's `max_payload`: it was not published (nats.js
 * refuses it too). Ends RESOURCE_EXHAUSTED.
 */
export class MaxPayloadError extends Error {
  constructor(
    message: string,
    /** The server's max_payload, in bytes (0 when unknown). */
    readonly maxPayload: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "MaxPayloadError";
  }
}

/** Any reason of this module. */
export type NrpcReason = NeverReachedError | StoppedAnsweringError | NotServedError | NodeDownError | NatsUnavailableError | MaxPayloadError;

/** The ConnectError a call ends with for `reason`: the reason's message, the given code, the reason as its cause. */
export function endedBy(reason: NrpcReason, code: Code): ConnectError {
  return new ConnectError(reason.message, code, undefined, undefined, reason);
}

/** True when a call ended because it never reached a node that serves it (see {@link NeverReachedError}, {@link NotServedError}). */
export function isNeverReached(err: ConnectError | undefined): boolean {
  return err?.cause instanceof NeverReachedError;
}

/** True when the node does not serve the call's service (see {@link NotServedError}). */
export function isNotServed(err: ConnectError | undefined): boolean {
  return err?.cause instanceof NotServedError;
}
