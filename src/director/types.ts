/**
 * What the Director needs from its neighbours, as small structural interfaces: the authenticator
 * (src/auth), the balancer (src/balancer), the node table (src/discovery) and an observer (metrics,
 * logs, the status page). Each has a trivial default so the Director runs without them.
 */
import type { NodeInfo } from "../core/node-info.js";
import type { Metadata } from "../core/metadata.js";
import type { WireProtocol } from "../core/call.js";
import type { ConnectError } from "@connectrpc/connect";

/** Checks a call's token before anything touches NATS. Throws a ConnectError to reject. */
export interface DirectorAuthenticator {
  readonly enabled: boolean;
  /** Metadata names the authenticator sets from verified claims; client copies are stripped. */
  readonly claimHeaderNames: readonly string[];
  authenticate(req: { metadata: Metadata; service: string; method: string; path: string; queryToken?: string }): Promise<{
    claims: Record<string, unknown> | undefined;
    forward: Metadata;
  }>;
}

/** Outcome of a call as the balancer's outlier detection sees it. */
export type CallOutcome = "ok" | "error" | "no_responders" | "timeout";

/** Picks a node among the live nodes of a service. */
export interface DirectorBalancer {
  pick(
    service: string,
    nodes: readonly NodeInfo[],
    ctx: { metadata: Metadata; claims?: Record<string, unknown>; exclude?: ReadonlySet<string>; messageKey?: string },
  ): NodeInfo | undefined | Promise<NodeInfo | undefined>;
  onCallStart(nid: string): void;
  onCallEnd(nid: string, outcome: CallOutcome): void;
  /**
   * Whether the node of a call to `method` (`pkg.Service/Method`) of `service` can only be chosen
   * from its first request message (a sticky key read from that message, none in claims or metadata).
   * The Director then bounds the wait for that message. Absent = never.
   */
  waitsForMessage?(service: string, method: string, ctx: { metadata: Metadata; claims?: Record<string, unknown> }): boolean;
  /**
   * The sticky key (room) a request message of `method` holds, when `service` reads one from it;
   * passed back to `pick` as `ctx.messageKey`. Throws a ConnectError when the message does not parse.
   */
  messageKey?(service: string, method: string, message: Uint8Array): string | undefined;
  /** The sticky key (room) a call of a sticky `service` is placed by; undefined when none or not sticky. */
  roomOf?(service: string, ctx: { metadata: Metadata; claims?: Record<string, unknown>; messageKey?: string }): string | undefined;
}

/** Live nodes per service. */
export interface DirectorNodeSource {
  nodes(service: string): readonly NodeInfo[];
}

/** What the Director reports about each call (metrics, logs, status page). */
export interface CallInfo {
  readonly id: string;
  readonly protocol: WireProtocol;
  readonly path: string;
  /** Discovery service, once routed and authenticated (unset for calls refused before). */
  service?: string;
  /** Serving node, once picked. */
  nid?: string;
  /** The room (sticky key) the call was placed by, for a sticky service; set before `callRouted`. */
  room?: string;
  readonly start: number;
  traceId?: string;
  bytesIn: number;
  bytesOut: number;
}

/** Observer of calls; every method optional. */
export interface DirectorObserver {
  callStarted?(info: CallInfo): void;
  /** A node was picked (`info.service` and `info.nid` are set); at most once per call. */
  callRouted?(info: CallInfo): void;
  callEnded?(info: CallInfo, error: ConnectError | undefined): void;
  authFailed?(info: CallInfo, error: ConnectError): void;
}
