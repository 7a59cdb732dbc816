/**
 * The shared picture of a backend node: filled by discovery (src/discovery), read by the Director and
 * the balancer. Runtime-neutral.
 */

/** One live backend node as the node table, the Director and the balancer see it. */
export interface NodeInfo {
  /** Node id; one NATS subject token, e.g. `sfu-AbC123` (nrpc subject `nrpc.<nid>.<pkg.Service>.<Method>`). */
  readonly nid: string;
  /** Discovery service name, e.g. `rtc`, `room`, `demo` (ION: the protobuf package of its methods). */
  readonly service: string;
  /** Data-center id (ION `[global].dc`). */
  readonly dc: string;
  /** How to reach it: ION nodes say `nats-grpc` and their NATS URL. */
  readonly rpc: { readonly protocol: string; readonly addr: string; readonly params: Readonly<Record<string, string>> };
  /** Free-form data the node published (ION `ExtraInfo`); a numeric `load` is used by load-aware balancing. */
  readonly extraInfo: Readonly<Record<string, unknown>>;
  /** Where the node was learnt: ION nats-discovery, or NATS micro (`$SRV`). */
  readonly source: "discovery" | "micro";
  /** ms since epoch when it was last seen (save/update/ping). */
  lastSeen: number;
}
