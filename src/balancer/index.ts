/**
 * Load balancing and sticky placement for the Director: strategies (round-robin, random, least
 * in-flight by power of two choices, sticky by key), placement agreed through JetStream KV with a
 * rendezvous-hash fallback, pinning by the `x-edge-node` header, and outlier ejection.
 */
export type { Balancer, CallOutcome, PickContext, PickResult } from "./types.js";
export { createBalancer, stickyMessageReaders, type BalancerDeps } from "./create-balancer.js";
export {
  parseBalancerConfig,
  parseStickyKey,
  parseMessageKey,
  DEFAULT_BALANCER_CONFIG,
  DEFAULT_MESSAGE_KEY,
  DEFAULT_PIN_HEADER,
  DEFAULT_PLACEMENT_BUCKET,
  DEFAULT_STICKY_KEY,
  type BalancerConfig,
  type EjectionConfig,
  type PlacementConfig,
  type ServiceBalancing,
  type SpreadStrategyName,
  type StickyKeySource,
  type StrategyName,
} from "./config.js";
export {
  openPlacementStore,
  usesStickyPlacement,
  createKvPlacementStore,
  type PlacementListener,
  type PlacementRecord,
  type PlacementStore,
  type PlacementStoreOptions,
} from "./placement-store.js";
export { placementKey, keyToken } from "./placement-key.js";
export { rendezvousPick } from "./rendezvous.js";
export { pinnedNode } from "./pin-header.js";
export { stickyKey } from "./sticky-key.js";
export { messageKeyReader, messageKeyReaders, resolveFieldPath, type MessageKeyReader } from "./message-field.js";
