/**
 * What a node announces about its nats-grpc server: in-order frames (edge-signal's TypeScript nodes)
 * or Go nats-grpc v1.0.0's behaviour. Read from discovery info (nats-discovery or NATS micro).
 */
import type { NodeInfo } from "../core/node-info.js";

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
