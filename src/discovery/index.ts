/** Discovery: nats-discovery (gob) client and registry, NATS micro, and the node table. */
export * from "./gob/index.js";
export * from "./messages.js";
export type { NodeInfo } from "./node.js";
