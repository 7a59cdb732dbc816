/**
 * Where sticky placements live so that every gateway agrees: a JetStream KV bucket mapping
 * `<service>.<key>` (see {@link placementKey}) to the node id a room was placed on.
 *
 * The store is deliberately thin — get, atomic create, compare-and-set update, and a watch — so the
 * placement logic ({@link StickyPlacement}) stays testable and the KV client stays replaceable.
 * Web-standard only (runs wherever `@nats-io/nats-core` runs: Node, Deno, Workers over WebSocket).
 */
import { NoRespondersError, RequestError, type NatsConnection } from "@nats-io/nats-core";
import { jetstream, JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import { jserrors } from "@nats-io/jetstream/internal";
import { Kvm, KvWatchInclude, type KV, type KvEntry } from "@nats-io/kv";
import { DEFAULT_BALANCER_CONFIG, type BalancerConfig } from "./config.js";

/** One placement as stored. */
export interface PlacementRecord {
  /** The node the key is placed on. */
  readonly nid: string;
  /** KV revision (stream sequence) of this value; the compare-and-set token. */
  readonly revision: number;
  /** ms since epoch when the value was written (server time when read back). */
  readonly writtenAt: number;
}

/** Receives placements written by any gateway (`undefined` when a key was deleted or purged). */
export type PlacementListener = (key: string, record: PlacementRecord | undefined) => void;

/** A shared, linearisable map from placement key to node id. */
export interface PlacementStore {
  /** The current placement of `key`, or undefined if none. */
  get(key: string): Promise<PlacementRecord | undefined>;
  /** Places `key` on `nid` only if it has no placement; undefined when another writer got there first. */
  create(key: string, nid: string): Promise<PlacementRecord | undefined>;
  /** Moves `key` to `nid` only if its revision is still `revision`; undefined when it changed meanwhile. */
  update(key: string, nid: string, revision: number): Promise<PlacementRecord | undefined>;
  /** Subscribes to changes made by anyone after the store was opened; returns the unsubscribe function. */
  watch(listener: PlacementListener): () => void;
  /** Stops the watch. Does not close the NATS connection. */
  close(): Promise<void>;
}

/** Options of {@link openPlacementStore}. */
export interface PlacementStoreOptions {
  /** Bucket name; default `edge_signal_placement`. */
  bucket?: string;
  /** Bucket max age in ms (placements unused for this long vanish); 0 = forever. Default 24 h. */
  ttlMs?: number;
  /** Timeout of each KV request in ms; default 2000. */
  timeoutMs?: number;
  /** Bucket replicas when the bucket is created (1, 3 or 5); default 1. */
  replicas?: number;
  /** JetStream domain of the bucket; default "" (the connection's own JetStream). */
  domain?: string;
  /** Told about errors that are handled (JetStream missing, watch restarts). */
  onError?: (err: unknown, context: string) => void;
}

/**
 * Opens (creating if needed) the placement bucket on `nc`. Resolves to undefined when JetStream is
 * not available (not enabled on the server or account, or the bucket cannot be created or bound):
 * the balancer then places by rendezvous hashing. The store closes itself when `nc` closes.
 * `BalancerConfig.placement` can be spread into the options: `{ ...config.placement, onError }`.
 */
export async function openPlacementStore(
  nc: NatsConnection,
  opts: PlacementStoreOptions = {},
): Promise<PlacementStore | undefined> {
  const d = DEFAULT_BALANCER_CONFIG.placement;
  const bucket = opts.bucket ?? d.bucket;
  const timeout = opts.timeoutMs ?? d.timeoutMs;
  const onError = opts.onError ?? (() => {});
  let kv: KV;
  try {
    const kvm = new Kvm(jetstream(nc, { timeout, ...(opts.domain ? { domain: opts.domain } : {}) }));
    try {
      kv = await kvm.create(bucket, {
        history: 1,
        ttl: opts.ttlMs ?? d.ttlMs,
        replicas: opts.replicas ?? 1,
        timeout,
        description: "edge-signal sticky placements: <service>.<key> -> node id",
      });
    } catch (err) {
      if (isJetStreamMissing(err)) throw err;
      // Usually: the bucket exists with other limits (set by another gateway or an operator). Bind to it.
      onError(err, `placement: creating bucket ${bucket} failed; binding to the existing one`);
      kv = await kvm.open(bucket, { timeout });
      await kv.status();
    }
  } catch (err) {
    onError(err, "placement: JetStream KV unavailable; falling back to rendezvous hashing");
    return undefined;
  }
  const store = createKvPlacementStore(kv, { onError, timeoutMs: timeout });
  // The store cannot outlive its connection: stop the watch (and its retries) when the connection closes.
  void nc.closed().then(
    () => store.close(),
    () => store.close(),
  );
  return store;
}

/** Whether any service of `config` is sticky (i.e. whether a placement store is worth opening). */
export function usesStickyPlacement(config: BalancerConfig): boolean {
  for (const s of config.services.values()) if (s.strategy === "sticky") return true;
  return false;
}

/** Wraps an open KV bucket as a {@link PlacementStore} and starts watching it. */
export function createKvPlacementStore(
  kv: KV,
  opts: { onError?: (err: unknown, context: string) => void; timeoutMs?: number } = {},
): PlacementStore {
  const onError = opts.onError ?? (() => {});
  const timeout = opts.timeoutMs;
  const listeners = new Set<PlacementListener>();
  let closed = false;
  let stopWatch: (() => void) | undefined;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let wake: (() => void) | undefined;

  const runWatch = async (): Promise<void> => {
    while (!closed) {
      try {
        const it = await kv.watch({ include: KvWatchInclude.UpdatesOnly });
        if (closed) {
          it.stop();
          return;
        }
        stopWatch = () => it.stop();
        for await (const e of it) {
          const rec = e.operation === "PUT" ? decode(e) : undefined;
          for (const l of listeners) l(e.key, rec);
        }
      } catch (err) {
        if (!closed) onError(err, "placement: bucket watch failed; restarting");
      }
      stopWatch = undefined;
      if (closed) return;
      // The watch ended without close(): restart after a pause (cached entries expire meanwhile).
      await new Promise<void>((r) => {
        wake = r;
        retryTimer = setTimeout(r, 1000);
      });
      wake = retryTimer = undefined;
    }
  };
  const watching = runWatch();

  return {
    async get(key) {
      const e = await kv.get(key);
      return e === null || e.operation !== "PUT" ? undefined : decode(e);
    },
    async create(key, nid) {
      try {
        const revision = await kv.create(key, encode(nid));
        return { nid, revision, writtenAt: Date.now() };
      } catch (err) {
        if (isWrongLastSequence(err)) return undefined;
        throw err;
      }
    },
    async update(key, nid, revision) {
      try {
        const rev = await kv.update(key, encode(nid), revision, timeout);
        return { nid, revision: rev, writtenAt: Date.now() };
      } catch (err) {
        if (isWrongLastSequence(err)) return undefined;
        throw err;
      }
    },
    watch(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      if (closed) return;
      closed = true;
      listeners.clear();
      if (retryTimer !== undefined) clearTimeout(retryTimer);
      wake?.();
      stopWatch?.();
      await watching;
    },
  };
}

const textEncoder = new TextEncoder();

function encode(nid: string): Uint8Array {
  return textEncoder.encode(JSON.stringify({ nid }));
}

/** Reads `{"nid": "..."}`; a bare string value (written by hand with `nats kv put`) is taken as the nid. */
function decode(e: KvEntry): PlacementRecord | undefined {
  let nid: unknown;
  try {
    const s = e.string();
    nid = s.startsWith("{") ? (JSON.parse(s) as { nid?: unknown }).nid : s.trim();
  } catch {
    return undefined;
  }
  if (typeof nid !== "string" || nid === "") return undefined;
  return { nid, revision: e.revision, writtenAt: e.created.getTime() };
}

/** JetStream's "wrong last sequence": a create or compare-and-set lost the race. */
function isWrongLastSequence(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence || err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

/**
 * JetStream is not there: not enabled on the server (nats.js: `JetStreamNotEnabled`, made from the
 * no-responders of the JetStream API), not for the account (API error 10039), or a bare no-responders
 * from a request. Told by nats.js's classes and codes, not by its wording.
 */
function isJetStreamMissing(err: unknown): boolean {
  return (
    err instanceof jserrors.JetStreamNotEnabled ||
    (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.JetStreamNotEnabledForAccount) ||
    (err instanceof RequestError && err.isNoResponders()) ||
    err instanceof NoRespondersError
  );
}
