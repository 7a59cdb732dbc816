/**
 * Sticky placement: one node per (service, key), agreed by every gateway.
 *
 * With a {@link PlacementStore} (JetStream KV):
 * - The first gateway to place a key writes it with an atomic **create**; a gateway that loses the
 *   race reads the winner's value. Two gateways placing a new room at once never split it.
 * - When the placed node is no longer live (or the caller excludes it), the key is moved with a
 *   **compare-and-set** update to a node chosen by the default strategy; the loser of that race
 *   re-reads and adopts the winner's node.
 * - Placements are cached locally (kept fresh by the bucket watch, and trusted for at most
 *   `cacheTtlMs` without it), so the common path is a synchronous map lookup plus a scan of the
 *   live nodes. Concurrent misses for one key share one KV round trip.
 * - A placement older than half the bucket's max age is rewritten (same node, CAS) when used, so
 *   rooms that live long are not forgotten.
 * Without a store, or for `retryAfterMs` after a KV failure, keys are placed by rendezvous hashing
 * over the live nodes: consistent across gateways without coordination (but not with KV placements,
 * so a fleet should not mix the two for long). Keys placed that way during a KV outage are written
 * to the bucket (atomic create) once it answers again, so they stay where they went.
 *
 * Ejection does not move a placed key (a room holds media state; a slow call should not split it).
 * Only "gone from the live list" and "excluded by the caller" do.
 */
import type { NodeInfo } from "../core/node-info.js";
import type { PlacementConfig } from "./config.js";
import { findNode } from "./node-filter.js";
import { keyToken, placementKey } from "./placement-key.js";
import type { PlacementRecord, PlacementStore } from "./placement-store.js";
import { rendezvousPick } from "./rendezvous.js";
import type { PickResult } from "./types.js";

/** Chooses a node for a new or moved placement (the default strategy, with ejection and panic). */
export type PlacementChooser = (
  service: string,
  nodes: readonly NodeInfo[],
  exclude: ReadonlySet<string> | undefined,
) => NodeInfo | undefined;

interface Cached {
  nid: string;
  revision: number;
  writtenAt: number;
  expiresAt: number;
}

/** How many create / compare-and-set rounds to try before giving up on KV for one pick. */
const MAX_ROUNDS = 8;

/** What a {@link StickyPlacement} works with. */
export interface StickyPlacementOptions {
  /** The shared placements (JetStream KV); undefined: rendezvous hashing only. */
  readonly store: PlacementStore | undefined;
  /** Picks the node of a new or moved placement. */
  readonly choose: PlacementChooser;
  readonly config: PlacementConfig;
  /** The clock (ms), replaceable in tests. */
  readonly now: () => number;
  /** Told about handled KV errors. */
  readonly onError: (err: unknown, context: string) => void;
}

/** Places sticky keys on nodes; see the module comment. */
export class StickyPlacement {
  private readonly cache = new Map<string, Cached>();
  private readonly pending = new Map<string, Promise<string | undefined>>();
  private readonly background = new Set<Promise<unknown>>();
  private readonly refreshing = new Set<string>();
  private readonly unwatch: (() => void) | undefined;
  private readonly serviceTokens = new Map<string, string>();
  private kvDownUntil = 0;
  /**
   * Keys placed by rendezvous hashing while KV was down → that node. They are not in the bucket, so
   * once KV answers again they are written there (create: a placement made meanwhile wins) and a room
   * first joined during an outage stays on its node (test/stack/cluster/failures.test.ts saw 14–19 of 30
   * such rooms move when it was not done). Bounded like the cache, oldest dropped first.
   */
  private readonly unwritten = new Map<string, string>();
  private flushing = false;

  private readonly store: PlacementStore | undefined;
  private readonly choose: PlacementChooser;
  private readonly config: PlacementConfig;
  private readonly now: () => number;
  private readonly onError: (err: unknown, context: string) => void;

  constructor(o: StickyPlacementOptions) {
    this.store = o.store;
    this.choose = o.choose;
    this.config = o.config;
    this.now = o.now;
    this.onError = o.onError;
    this.unwatch = o.store?.watch((key, rec) => this.onWatch(key, rec));
  }

  /** `keyToken(service)`, memoised (a handful of services). */
  private serviceToken(service: string): string {
    let tok = this.serviceTokens.get(service);
    if (tok === undefined) {
      tok = keyToken(service);
      if (this.serviceTokens.size < 1024) this.serviceTokens.set(service, tok);
    }
    return tok;
  }

  /** The node `key` of `service` is placed on, placing it if needed. Sync on a cache hit. */
  pick(service: string, key: string, nodes: readonly NodeInfo[], exclude: ReadonlySet<string> | undefined): PickResult {
    if (nodes.length === 0) return undefined;
    if (this.store === undefined) return rendezvousPick(key, nodes, exclude);
    const kvKey = this.serviceToken(service) + "." + keyToken(key);
    const c = this.cache.get(kvKey);
    const t = this.now();
    const kvDown = this.kvDownUntil !== 0 && t < this.kvDownUntil;
    if (c !== undefined && (c.expiresAt > t || kvDown)) {
      // While KV is down, an expired placement is still a better guess than a hash.
      const n = findNode(nodes, c.nid, exclude);
      if (n !== undefined) {
        if (!kvDown && this.config.ttlMs > 0 && t - c.writtenAt > this.config.ttlMs / 2) this.refresh(kvKey, c);
        return n;
      }
    }
    if (kvDown) {
      const n = rendezvousPick(key, nodes, exclude);
      this.placedWithoutKv(kvKey, n?.nid);
      return n;
    }
    return this.placeShared(service, kvKey, key, nodes, exclude);
  }

  /** The locally cached placement of `key` of `service`, if any (for status pages and tests). */
  cached(service: string, key: string): string | undefined {
    return this.cache.get(placementKey(service, key))?.nid;
  }

  /** Stops the watch and waits for placements and refreshes in progress. */
  async close(): Promise<void> {
    this.unwatch?.();
    await Promise.allSettled([...this.pending.values(), ...this.background]);
    this.cache.clear();
  }

  private async placeShared(
    service: string,
    kvKey: string,
    key: string,
    nodes: readonly NodeInfo[],
    exclude: ReadonlySet<string> | undefined,
  ): Promise<NodeInfo | undefined> {
    let p = this.pending.get(kvKey);
    if (p === undefined) {
      p = this.place(service, kvKey, key, nodes, exclude).finally(() => this.pending.delete(kvKey));
      this.pending.set(kvKey, p);
    }
    const nid = await p;
    if (nid === undefined) return undefined;
    const n = findNode(nodes, nid, exclude);
    if (n !== undefined) return n;
    // We joined a placement made with another view (its caller did not exclude what we exclude,
    // or saw other nodes): place with ours. Rare; not shared.
    const own = await this.place(service, kvKey, key, nodes, exclude);
    return own === undefined ? undefined : findNode(nodes, own, exclude);
  }

  /** Reads, creates or moves the placement; resolves to the nid (always one of `nodes` minus `exclude`). */
  private async place(
    service: string,
    kvKey: string,
    key: string,
    nodes: readonly NodeInfo[],
    exclude: ReadonlySet<string> | undefined,
  ): Promise<string | undefined> {
    const store = this.store!;
    try {
      for (let round = 0; round < MAX_ROUNDS; round++) {
        const rec = await store.get(kvKey);
        this.flushUnwritten();
        if (rec !== undefined && findNode(nodes, rec.nid, exclude) !== undefined) {
          this.unwritten.delete(kvKey);
          this.remember(kvKey, rec);
          return rec.nid;
        }
        // A key this gateway placed during an outage goes where it went then.
        const prior = rec === undefined ? this.unwritten.get(kvKey) : undefined;
        const target = (prior !== undefined ? findNode(nodes, prior, exclude) : undefined) ?? this.choose(service, nodes, exclude);
        if (target === undefined) return undefined;
        const won =
          rec === undefined
            ? await store.create(kvKey, target.nid)
            : await store.update(kvKey, target.nid, rec.revision);
        if (won !== undefined) {
          this.unwritten.delete(kvKey);
          this.remember(kvKey, won);
          return won.nid;
        }
        // Lost the race to another gateway: read what it wrote and adopt it if it is live for us.
      }
      this.onError(new Error(`placement of ${kvKey} did not settle after ${MAX_ROUNDS} rounds`), "placement");
    } catch (err) {
      this.kvDownUntil = this.now() + this.config.retryAfterMs;
      this.onError(err, "placement: KV failed; using rendezvous hashing for a while");
      const nid = rendezvousPick(key, nodes, exclude)?.nid;
      this.placedWithoutKv(kvKey, nid);
      return nid;
    }
    return rendezvousPick(key, nodes, exclude)?.nid;
  }

  /** Notes a placement made without KV (see {@link unwritten}). */
  private placedWithoutKv(kvKey: string, nid: string | undefined): void {
    if (nid === undefined) return;
    if (!this.unwritten.has(kvKey) && this.unwritten.size >= this.config.maxCacheEntries) {
      const oldest = this.unwritten.keys().next();
      if (!oldest.done) this.unwritten.delete(oldest.value);
    }
    this.unwritten.set(kvKey, nid);
  }

  /** KV answered: writes the placements made without it, in the background, until done or KV fails again. */
  private flushUnwritten(): void {
    if (this.flushing || this.unwritten.size === 0) return;
    this.flushing = true;
    const store = this.store!;
    const task = (async () => {
      for (const [kvKey, nid] of [...this.unwritten]) {
        if (this.now() < this.kvDownUntil) return;
        try {
          const won = await store.create(kvKey, nid);
          if (won !== undefined) this.remember(kvKey, won);
          if (this.unwritten.get(kvKey) === nid) this.unwritten.delete(kvKey);
        } catch (err) {
          this.kvDownUntil = this.now() + this.config.retryAfterMs;
          this.onError(err, "placement: writing placements made without KV failed; trying again later");
          return;
        }
      }
    })().finally(() => {
      this.flushing = false;
      this.background.delete(task);
    });
    this.background.add(task);
  }

  private remember(kvKey: string, rec: PlacementRecord): void {
    const old = this.cache.get(kvKey);
    if (old !== undefined) {
      if (old.revision > rec.revision) return; // the watch already brought something newer
      this.cache.delete(kvKey); // re-insert: keeps Map order roughly least-recently-written first
    } else if (this.cache.size >= this.config.maxCacheEntries) {
      const oldest = this.cache.keys().next();
      if (!oldest.done) this.cache.delete(oldest.value);
    }
    this.cache.set(kvKey, {
      nid: rec.nid,
      revision: rec.revision,
      writtenAt: rec.writtenAt,
      expiresAt: this.now() + this.config.cacheTtlMs,
    });
  }

  /** A placement changed anywhere: update the keys we cache, ignore the rest. */
  private onWatch(kvKey: string, rec: PlacementRecord | undefined): void {
    const old = this.cache.get(kvKey);
    if (old === undefined) return;
    if (rec === undefined) this.cache.delete(kvKey);
    else if (rec.revision > old.revision) this.remember(kvKey, rec);
  }

  /** Rewrites a long-lived placement (same node) so the bucket's max age does not drop it. */
  private refresh(kvKey: string, c: Cached): void {
    if (this.refreshing.has(kvKey)) return;
    this.refreshing.add(kvKey);
    const task = this.store!
      .update(kvKey, c.nid, c.revision)
      .then(
        (rec) => (rec !== undefined ? this.remember(kvKey, rec) : this.cache.delete(kvKey)),
        (err) => this.onError(err, "placement: refresh failed"),
      )
      .finally(() => {
        this.refreshing.delete(kvKey);
        this.background.delete(task);
      });
    this.background.add(task);
  }
}
