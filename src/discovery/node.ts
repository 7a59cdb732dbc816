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

/**
 * The key and value a node puts in its discovery info to say that its nats-grpc server handles the
 * frames of a stream in order and reads an empty `Data` as the empty message — what edge-signal's
 * TypeScript nodes (src/nrpc/server.ts) do and Go nats-grpc v1.0.0 nodes do not (spec §1.8, §1.10).
 * In nats-discovery it goes in the gob `ExtraInfo` map (`"nrpc": "ordered"`), in NATS micro in the
 * service metadata (same key and value). Nodes without it get the Go-compatible sender.
 */
export const orderedNrpcKey = "nrpc";
/** See {@link orderedNrpcKey}. */
export const orderedNrpcValue = "ordered";

/** True if the node announced an in-order nats-grpc server ({@link orderedNrpcKey}). */
export function announcesOrderedNrpc(node: NodeInfo): boolean {
  if (node.extraInfo[orderedNrpcKey] === orderedNrpcValue) return true;
  const md = node.extraInfo.metadata; // NATS micro: the service metadata (src/discovery/micro.ts)
  return node.source === "micro" && typeof md === "object" && md !== null && (md as Record<string, unknown>)[orderedNrpcKey] === orderedNrpcValue;
}
