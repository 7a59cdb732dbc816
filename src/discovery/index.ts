/**
 * Discovery: ION-compatible nats-discovery (gob on the wire) client and registry, NATS micro polling,
 * and the node table the Director balances over.
 */
export * from "./gob/index.js";
export * from "./messages.js";
export type { NodeInfo } from "../core/node-info.js";
export { announcesOrderedNrpc, orderedNrpcKey, orderedNrpcValue } from "./ordered-nrpc.js";
export { DiscoveryClient, type DiscoveryClientOptions, type KeepAliveHandle, type NodeState, type WatchEvent, type WatchOptions, type Watcher } from "./client.js";
export { startRegistry, type Registry, type RegistryAction, type RegistryOptions } from "./registry.js";
export { NodeTable, type NodeChange, type NodeDownReason, type NodeTableOptions } from "./node-table.js";
export { syncDiscovery, type SyncDiscoveryOptions, type SyncedDiscovery } from "./sync-discovery.js";
export { driftInterval } from "./drift-interval.js";
export { startMicroDiscovery, type MicroDiscovery, type MicroDiscoveryOptions } from "./micro.js";
export { randomNid } from "./random-nid.js";
export { DISCOVERY_PREFIX, PUBLISH_PREFIX, discoverySubjectFor, getSubject, isSubjectToken, publishSubject, watchSubject } from "./subjects.js";
export { errorText, silentLog, type DiscoveryLog, type DiscoveryLogLevel } from "./log.js";
