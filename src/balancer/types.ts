/**
 * The balancer's contract with the Director.
 *
 * Per call the Director looks up the live nodes of a service, asks {@link Balancer.pick} for one,
 * brackets the call with {@link Balancer.onCallStart} / {@link Balancer.onCallEnd}, and may retry a
 * unary call that never reached a node once more with the failed nid in {@link PickContext.exclude}.
 */
import type { NodeInfo } from "../core/node-info.js";
import type { Metadata } from "../core/metadata.js";

/**
 * How a call ended, as far as node health is concerned.
 * - `ok`: the node answered with OK.
 * - `error`: the node answered with a non-OK status (the node is alive; health is reset).
 * - `no_responders`: NATS had no subscriber for the node's subject (the node is gone).
 * - `timeout`: the node never answered in time.
 * The last two eject the node for a back-off period.
 */
export type CallOutcome = "ok" | "error" | "no_responders" | "timeout";

/** What the balancer may look at when picking a node for one call. */
export interface PickContext {
  /** Request metadata (lower-case keys): the pin header and metadata sticky keys are read from here. */
  readonly metadata: Metadata;
  /** Verified JWT claims, if the call was authenticated (e.g. ION `sid`, `uid`). */
  readonly claims?: Readonly<Record<string, unknown>>;
  /** Node ids that must not be picked (e.g. the node a unary call just failed to reach). */
  readonly exclude?: ReadonlySet<string>;
  /**
   * The sticky key read from the call's first request message ({@link Balancer.messageKey}), used
   * when the claims and metadata hold none.
   */
  readonly messageKey?: string;
}

/**
 * The result of {@link Balancer.pick}: a node, `undefined` when no node is usable, or — only when a
 * sticky placement has to be read from or written to the placement store — a promise of either.
 * Callers should test `result instanceof Promise` (or `await` it; a plain value awaits fine) so
 * the common path stays synchronous.
 */
export type PickResult = NodeInfo | undefined | Promise<NodeInfo | undefined>;

/** Chooses a node for each call and tracks per-node load and health. */
export interface Balancer {
  /**
   * Picks one of `nodes` (the live nodes of `service`) for a call. Order of precedence:
   * 1. sticky services with a key: the placement every gateway agrees on (KV, or rendezvous hash);
   * 2. the pin header (see {@link Balancer.pinHeader}) naming a live, non-ejected node of this service;
   * 3. the service's strategy (round-robin, random, or least in-flight by power of two choices),
   *    skipping ejected nodes unless every candidate is ejected (panic mode).
   * Nodes in `ctx.exclude` are never returned. Synchronous unless a placement store round trip is needed.
   */
  pick(service: string, nodes: readonly NodeInfo[], ctx: PickContext): PickResult;
  /** A call to `nid` started (counts toward its in-flight total). */
  onCallStart(nid: string): void;
  /** A call to `nid` ended; `no_responders` and `timeout` eject the node, `ok` and `error` reset it. */
  onCallEnd(nid: string, outcome: CallOutcome): void;
  /** Calls to `nid` currently in flight through this balancer. */
  inFlight(nid: string): number;
  /** Whether `nid` is currently ejected as an outlier. */
  isEjected(nid: string): boolean;
  /** The metadata key that pins a call to a node (lower-case, default `x-edge-node`); "" when disabled. */
  readonly pinHeader: string;
  /**
   * Whether a call to `method` (`pkg.Service/Method`) of `service` can only be placed by its first
   * request message: a sticky service with a message key for the method, and no key in the claims
   * or metadata.
   */
  waitsForMessage(service: string, method: string, ctx: Pick<PickContext, "metadata" | "claims">): boolean;
  /**
   * The sticky key (room) `message` holds, when `service` is sticky and has a message key for
   * `method`; undefined when it has none or the field is unset. Throws a ConnectError
   * (INVALID_ARGUMENT) when the message does not parse.
   */
  messageKey(service: string, method: string, message: Uint8Array): string | undefined;
  /** The sticky key a call of `service` is placed by (claim, metadata, then `ctx.messageKey`); undefined when none or not sticky. */
  roomOf(service: string, ctx: Pick<PickContext, "metadata" | "claims" | "messageKey">): string | undefined;
  /** Stops watching the placement store and waits for placements in progress. Does not close the store. */
  close(): Promise<void>;
}
