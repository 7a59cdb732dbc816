/** Keeps a {@link NodeTable} current from nats-discovery: one watch, mapped onto the table. */
import type { NatsConnection } from "@nats-io/nats-core";
import { DiscoveryClient, type Watcher } from "./client.js";
import type { DiscoveryLog } from "./log.js";
import type { NodeTable } from "./node-table.js";

/** Options for {@link syncDiscovery}. */
export interface SyncDiscoveryOptions {
  /** Service to follow; `*` (default) follows every service, as ION nodes do. */
  service?: string;
  log?: DiscoveryLog;
  /** Timeout of the initial Get. Default 15 000 ms. */
  requestTimeoutMs?: number;
  /** Use this client instead of making one (its options win). */
  client?: DiscoveryClient;
}

/**
 * Watches nats-discovery and keeps `table` current: up → add, registry keepalive → add/refresh,
 * a node's own update seen on `node.publish` → refresh a known node, down → remove. Resolves once the
 * initial Get is done (a failed Get is logged; events still flow). `close()` stops following.
 */
export async function syncDiscovery(nc: NatsConnection, table: NodeTable, opts: SyncDiscoveryOptions = {}): Promise<Watcher> {
  const client = opts.client ?? new DiscoveryClient(nc, { log: opts.log, requestTimeoutMs: opts.requestTimeoutMs });
  const watcher = client.watch(opts.service ?? "*", (ev) => {
    const known = table.get(ev.node.nid);
    switch (ev.state) {
      case "up":
        table.upsert(ev.node);
        break;
      case "keepalive":
        // Registries only forward an update for a node they had not seen (e.g. after a restart):
        // that node is registered, so add it. A node's own update only refreshes what we know.
        if (ev.fromRegistry || known?.source === "discovery") table.upsert(ev.node);
        break;
      case "down":
        if (known?.source === "discovery") table.remove(ev.node.nid, "delete");
        break;
    }
  });
  await watcher.ready;
  return watcher;
}
