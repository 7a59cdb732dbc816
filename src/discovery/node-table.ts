/**
 * The gateway's view of live backend nodes, per service, fed by nats-discovery and NATS micro.
 *
 * `nodes(service)` returns a cached frozen array (rebuilt only after a change), so the balancer's hot
 * path is O(1). Listeners hear `up`, `update` (node data changed) and `down` (with a reason), so the
 * Director can cancel the streams of a node that went away. A sweep drops nodes not seen for a while
 * (default 7 s), in case a delete was missed. Expiry counts only time the process ran: when the sweep
 * timer fires late (the process was stopped, starved or blocked), every node gets that time back
 * before the sweep, so the sweep never runs ahead of keepalives still queued in the socket, and
 * `onStall` listeners hear about it (sync-discovery re-reads the registry).
 */
import { driftInterval } from "./drift-interval.js";
import { errorText, silentLog, type DiscoveryLog } from "./log.js";
import type { NodeInfo } from "../core/node-info.js";

/** Why a node left the table ("restarted": it registered again under its nid, a new process). */
export type NodeDownReason = "delete" | "expired" | "replaced" | "closed" | "restarted";

/** A change in the table. */
export type NodeChange =
  | { readonly type: "up"; readonly node: NodeInfo }
  | { readonly type: "update"; readonly node: NodeInfo; readonly previous: NodeInfo }
  | { readonly type: "down"; readonly node: NodeInfo; readonly reason: NodeDownReason };

/** Options for {@link NodeTable}. */
export interface NodeTableOptions {
  /** Default time-to-live after `lastSeen`. Default 7 000 ms. */
  expireMs?: number;
  /** How often the sweep runs while the table is not empty. Default 1 000 ms. */
  sweepMs?: number;
  /** Clock (ms). Default Date.now. */
  now?: () => number;
  /** Where listener exceptions go. */
  log?: DiscoveryLog;
  /** A sweep tick this much later than due is a stall: `onStall` listeners are called. Default 1 000 ms. */
  stallMs?: number;
}

interface Entry {
  node: NodeInfo;
  ttl: number;
  /** Time the process did not run since `lastSeen` (late sweep ticks): added to the ttl. */
  credit: number;
}

const EMPTY: readonly NodeInfo[] = Object.freeze([]);
const ALL = "*";

/** Per-service index of live nodes. */
export class NodeTable {
  private readonly byNid = new Map<string, Entry>();
  private readonly byService = new Map<string, Map<string, Entry>>();
  /** Cached `nodes(service)` arrays; absent = stale. `*` caches all nodes. */
  private readonly cache = new Map<string, readonly NodeInfo[]>();
  private readonly listeners = new Set<(change: NodeChange) => void>();
  private readonly stallListeners = new Set<(lateMs: number) => void>();
  private readonly expireMs: number;
  private readonly stallMs: number;
  private readonly sweepMs: number;
  private readonly now: () => number;
  private readonly log: DiscoveryLog;
  private stopTimer: (() => void) | undefined;
  private closed = false;

  constructor(opts: NodeTableOptions = {}) {
    this.expireMs = opts.expireMs ?? 7_000;
    this.sweepMs = opts.sweepMs ?? 1_000;
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? silentLog;
    this.stallMs = opts.stallMs ?? 1_000;
  }

  /** Number of nodes. */
  get size(): number {
    return this.byNid.size;
  }

  /** The live nodes of `service` (`*` = all), as a cached frozen array. O(1) unless the table changed. */
  nodes(service: string): readonly NodeInfo[] {
    const hit = this.cache.get(service);
    if (hit) return hit;
    let list: readonly NodeInfo[];
    if (service === ALL) list = Object.freeze(Array.from(this.byNid.values(), (e) => e.node));
    else {
      const m = this.byService.get(service);
      list = m ? Object.freeze(Array.from(m.values(), (e) => e.node)) : EMPTY;
    }
    this.cache.set(service, list);
    return list;
  }

  /** The node with id `nid`. */
  get(nid: string): NodeInfo | undefined {
    return this.byNid.get(nid)?.node;
  }

  /** Services that have at least one node. */
  services(): string[] {
    return Array.from(this.byService.keys());
  }

  /** Subscribes to changes; returns the unsubscribe function. */
  onChange(cb: (change: NodeChange) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  /**
   * Subscribes to stalls: the sweep timer ran `lateMs` (≥ `stallMs`) later than due, so the process
   * did not run for that long (nodes were credited that time). Returns the unsubscribe function.
   */
  onStall(cb: (lateMs: number) => void): () => void {
    this.stallListeners.add(cb);
    return () => this.stallListeners.delete(cb);
  }

  /**
   * Adds or refreshes a node (keyed by nid). Emits `up` for a new node, `update` when its data changed
   * (a changed service is `down` + `up`), nothing when only `lastSeen` moved. `ttlMs` overrides the
   * table's expiry for this node. Returns what happened.
   */
  upsert(node: NodeInfo, ttlMs = this.expireMs): "up" | "update" | "touch" {
    if (this.closed) return "touch";
    const old = this.byNid.get(node.nid);
    if (old && old.node.service === node.service) {
      old.ttl = ttlMs;
      if (node.lastSeen >= old.node.lastSeen) old.credit = 0;
      if (sameNode(old.node, node)) {
        old.node.lastSeen = Math.max(old.node.lastSeen, node.lastSeen);
        return "touch";
      }
      const previous = old.node;
      old.node = node;
      this.invalidate(node.service);
      this.emit({ type: "update", node, previous });
      return "update";
    }
    if (old) this.remove(node.nid, "replaced");
    const entry: Entry = { node, ttl: ttlMs, credit: 0 };
    this.byNid.set(node.nid, entry);
    let m = this.byService.get(node.service);
    if (!m) this.byService.set(node.service, (m = new Map()));
    m.set(node.nid, entry);
    this.invalidate(node.service);
    this.startSweep();
    this.emit({ type: "up", node });
    return "up";
  }

  /** Marks a node as seen now (or at `at`). Returns false if it is unknown. */
  touch(nid: string, at = this.now()): boolean {
    const e = this.byNid.get(nid);
    if (!e) return false;
    if (at > e.node.lastSeen) {
      e.node.lastSeen = at;
      e.credit = 0;
    }
    return true;
  }

  /** Removes a node; emits `down`. Returns the removed node. */
  remove(nid: string, reason: NodeDownReason = "delete"): NodeInfo | undefined {
    const e = this.byNid.get(nid);
    if (!e) return undefined;
    this.byNid.delete(nid);
    const m = this.byService.get(e.node.service);
    if (m) {
      m.delete(nid);
      if (m.size === 0) this.byService.delete(e.node.service);
    }
    this.invalidate(e.node.service);
    if (this.byNid.size === 0) this.stopSweep();
    this.emit({ type: "down", node: e.node, reason });
    return e.node;
  }

  /**
   * Drops every node whose `lastSeen + ttl` (plus the time the process was stalled since) has passed;
   * returns how many. Runs by itself every `sweepMs`.
   */
  sweep(now = this.now()): number {
    let n = 0;
    for (const [nid, e] of this.byNid) {
      if (e.node.lastSeen + e.ttl + e.credit <= now) {
        this.remove(nid, "expired");
        n++;
      }
    }
    return n;
  }

  /** Stops the sweep and removes every node (listeners hear `down` with reason `closed`). */
  close(): void {
    if (this.closed) return;
    for (const nid of Array.from(this.byNid.keys())) this.remove(nid, "closed");
    this.closed = true;
    this.stopSweep();
    this.listeners.clear();
    this.stallListeners.clear();
  }

  private invalidate(service: string): void {
    this.cache.delete(service);
    this.cache.delete(ALL);
  }

  private emit(change: NodeChange): void {
    for (const cb of this.listeners) {
      try {
        cb(change);
      } catch (e) {
        this.log("error", "node table: listener threw", { error: errorText(e) });
      }
    }
  }

  private startSweep(): void {
    if (this.stopTimer === undefined && !this.closed) this.stopTimer = driftInterval(this.sweepMs, (late) => this.tick(late));
  }

  /** One timer tick: give every node the time the process did not run, report a stall, then sweep. */
  private tick(lateMs: number): void {
    if (lateMs > 0) for (const e of this.byNid.values()) e.credit += lateMs;
    if (lateMs >= this.stallMs) {
      this.log("warn", "node table: the process stalled; expiry paused for that time", { lateMs });
      for (const cb of this.stallListeners) {
        try {
          cb(lateMs);
        } catch (e) {
          this.log("error", "node table: stall listener threw", { error: errorText(e) });
        }
      }
    }
    this.sweep();
  }

  private stopSweep(): void {
    this.stopTimer?.();
    this.stopTimer = undefined;
  }
}

/** Same data apart from lastSeen. */
function sameNode(a: NodeInfo, b: NodeInfo): boolean {
  return (
    a.dc === b.dc &&
    a.source === b.source &&
    a.rpc.protocol === b.rpc.protocol &&
    a.rpc.addr === b.rpc.addr &&
    sameRecord(a.rpc.params, b.rpc.params) &&
    sameRecord(a.extraInfo, b.extraInfo)
  );
}

function sameRecord(a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>): boolean {
  return a === b || sameValue(a, b, 0);
}

/** Structural equality for the plain data nodes carry (JSON or gob basics), depth-capped. */
function sameValue(x: unknown, y: unknown, depth: number): boolean {
  if (Object.is(x, y)) return true;
  if (typeof x !== "object" || typeof y !== "object" || x === null || y === null || depth > 16) return false;
  if (x instanceof Uint8Array || y instanceof Uint8Array) {
    return x instanceof Uint8Array && y instanceof Uint8Array && x.length === y.length && x.every((v, i) => v === y[i]);
  }
  if (Array.isArray(x) !== Array.isArray(y)) return false;
  const kx = Object.keys(x);
  if (kx.length !== Object.keys(y).length) return false;
  for (const k of kx) {
    if (!Object.hasOwn(y, k) || !sameValue((x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k], depth + 1)) return false;
  }
  return true;
}
