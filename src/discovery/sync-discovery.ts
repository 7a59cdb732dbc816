/**
 * Keeps a {@link NodeTable} current from nats-discovery: one watch, mapped onto the table, healed by
 * re-reading the registry periodically, after a stall of the process and on demand (NATS reconnect).
 * Runtime-neutral.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { DiscoveryClient, type Watcher } from "./client.js";
import { errorText, silentLog, type DiscoveryLog } from "./log.js";
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
  /**
   * Re-read the registry this often (ms; 0 = only after stalls and on `resync()`). Default 30 000: a
   * node whose save and registry events were all missed (e.g. published while NATS was away) is back
   * within this time even if its own keepalives are not seen.
   */
  resyncMs?: number;
}

/** A running sync: the watch, plus a way to re-read the registry now. */
export interface SyncedDiscovery extends Watcher {
  /** Re-reads the registry now (joins a running re-read); `reason` goes to the log. */
  resync(reason: string): Promise<void>;
}

/**
 * Watches nats-discovery and keeps `table` current: up (a registry save, a Get result, or a node's own
 * save) → add; keepalive (a registry-forwarded or a node's own update) → add or refresh; down → remove.
 * A node heard of for the first time through its keepalive is added: after a stall, or a missed save,
 * its keepalives are all we hear (registries only forward a save once). Nodes found by NATS micro are
 * not overwritten by keepalives. Resolves once the initial Get is done (a failed Get is logged; events
 * still flow). `close()` stops following.
 */
/**
 * A node's own save this long after the node was first heard of is a restart, also when we missed its
 * first own save (a new node's own save and the registry's forward of it arrive milliseconds apart).
 */
const restartWindowMs = 1000;

export async function syncDiscovery(nc: NatsConnection, table: NodeTable, opts: SyncDiscoveryOptions = {}): Promise<SyncedDiscovery> {
  const log = opts.log ?? silentLog;
  const client = opts.client ?? new DiscoveryClient(nc, { log, requestTimeoutMs: opts.requestTimeoutMs });
  // When each node was first heard of, and the nodes whose own save we saw: a restart is a node's own
  // save after one we saw, or well after we first heard of it.
  const firstSeen = new Map<string, number>();
  const ownSave = new Set<string>();
  const offDown = table.onChange((ch) => {
    if (ch.type !== "down") return;
    firstSeen.delete(ch.node.nid);
    ownSave.delete(ch.node.nid);
  });
  const watcher = client.watch(opts.service ?? "*", (ev) => {
    const nid = ev.node.nid;
    const known = table.get(nid);
    const now = Date.now();
    if (!known) firstSeen.set(nid, now);
    switch (ev.state) {
      case "up":
        // A node publishes its own save once, when its KeepAlive starts (spec §2.4); a save from a node
        // known for longer than a registry's forward of its first save can lag is a restart under the
        // same nid: the old process's calls are gone, so the node leaves the table (its calls end
        // UNAVAILABLE at once) and comes back.
        if (!ev.fromRegistry && known?.source === "discovery" && (ownSave.has(nid) || now - (firstSeen.get(nid) ?? now) > restartWindowMs)) {
          log("info", "discovery: node restarted under the same nid", { nid });
          table.remove(nid, "restarted");
          firstSeen.set(nid, now);
        }
        if (!ev.fromRegistry) ownSave.add(nid);
        table.upsert(ev.node);
        break;
      case "keepalive":
        if (!known || known.source === "discovery") table.upsert(ev.node);
        break;
      case "down":
        if (known?.source === "discovery") table.remove(ev.node.nid, "delete");
        break;
    }
  });
  const resync = async (reason: string) => {
    const before = table.size;
    const n = await watcher.refresh();
    if (n !== undefined) log(reason === "periodic" && before === table.size ? "debug" : "info", "discovery: registry re-read", { reason, registryNodes: n, tableBefore: before, tableAfter: table.size });
  };
  const kick = (reason: string) => void resync(reason).catch((e) => log("error", "discovery: re-read failed", { reason, error: errorText(e) }));
  const offStall = table.onStall((lateMs) => kick(`stalled ${lateMs} ms`));
  const resyncMs = opts.resyncMs ?? 30_000;
  const timer = resyncMs > 0 ? setInterval(() => kick("periodic"), resyncMs) : undefined;
  await watcher.ready;
  return {
    ready: watcher.ready,
    refresh: () => watcher.refresh(),
    resync,
    close: async () => {
      offStall();
      offDown();
      if (timer !== undefined) clearInterval(timer);
      await watcher.close();
    },
  };
}
