/**
 * Balancer configuration: its shape, its defaults (in one place), and a validating parser for the
 * raw object that comes out of TOML / JSON / env.
 */
import { didYouMean } from "../config/did-you-mean.js";

/** A balancing strategy. `sticky` places each key (room) on one node; the others spread calls. */
export type StrategyName = "round_robin" | "random" | "p2c" | "sticky";

/** A strategy that spreads calls (usable as the default and as sticky's fallback). */
export type SpreadStrategyName = Exclude<StrategyName, "sticky">;

/** Where a sticky key comes from: a verified JWT claim or a request metadata entry. */
export interface StickyKeySource {
  readonly from: "claim" | "metadata";
  /** Claim name (as in the token) or metadata key (lower-case). */
  readonly name: string;
}

/** How one service is balanced. */
export interface ServiceBalancing {
  readonly strategy: StrategyName;
  /** Sticky key sources, tried in order; the first non-empty value is the key. */
  readonly key: readonly StickyKeySource[];
  /**
   * Tried after `key` finds nothing: per method (`pkg.Service/Method`), a dotted field path of its
   * first request message (`join.sid`) whose value is the key. Read with the method's schema
   * (compiled in, or from `edge.descriptor_sets`).
   */
  readonly messageKey: ReadonlyMap<string, string>;
}

/** Outlier ejection back-off: `baseMs` after the first failure, doubling up to `maxMs`. */
export interface EjectionConfig {
  readonly baseMs: number;
  readonly maxMs: number;
}

/** Sticky placement store (JetStream KV) and its local cache. */
export interface PlacementConfig {
  /** KV bucket name (`[-_a-zA-Z0-9]+`). */
  readonly bucket: string;
  /** How long a bucket entry lives without being refreshed (bucket max age); 0 = forever. */
  readonly ttlMs: number;
  /** How long a cached placement is trusted without hearing from the bucket watch. */
  readonly cacheTtlMs: number;
  /** Upper bound on cached placements (oldest dropped first). */
  readonly maxCacheEntries: number;
  /** Timeout of one KV operation. */
  readonly timeoutMs: number;
  /** After a KV failure, use rendezvous hashing for this long before trying KV again. */
  readonly retryAfterMs: number;
  /** Replicas of the bucket when a gateway creates it: 1, or 3 / 5 on a clustered JetStream (survives 1 / 2 lost servers). */
  readonly replicas: number;
  /**
   * JetStream domain holding the bucket ("" = the one the connection's server answers for). Set it
   * when the gateway's server is a leaf node with a JetStream domain of its own (see deploy/).
   */
  readonly domain: string;
}

/** The whole balancer configuration (see {@link parseBalancerConfig} for the raw form). */
export interface BalancerConfig {
  /** Strategy of services not listed in `services`, and sticky's fallback when a call has no key. */
  readonly default: SpreadStrategyName;
  /** Per-service settings, by discovery service name (e.g. `rtc`, `room`). */
  readonly services: ReadonlyMap<string, ServiceBalancing>;
  /** Metadata key that pins a call to a live node (lower-case); "" disables pinning. */
  readonly pinHeader: string;
  /** Weight of `NodeInfo.extraInfo.load` against one in-flight call in least-loaded choices. */
  readonly loadWeight: number;
  readonly ejection: EjectionConfig;
  readonly placement: PlacementConfig;
  /**
   * How long a call whose key can only come from its first request message may take to send it
   * before it ends DEADLINE_EXCEEDED; 0 = only the call's own deadline.
   */
  readonly firstMessageTimeoutMs: number;
}

/** Default pin header: the Director sets it on every response; ion-sdk-js sends it back on later calls. */
export const DEFAULT_PIN_HEADER = "x-edge-node";

/** Default placement bucket. */
export const DEFAULT_PLACEMENT_BUCKET = "edge_signal_placement";

/** Default sticky key: the verified `sid` claim (ION room), else `sid` or `x-ion-sid` metadata. */
export const DEFAULT_STICKY_KEY: readonly StickyKeySource[] = Object.freeze([
  Object.freeze({ from: "claim", name: "sid" } as const),
  Object.freeze({ from: "metadata", name: "sid" } as const),
  Object.freeze({ from: "metadata", name: "x-ion-sid" } as const),
]);

/**
 * Default message keys of sticky services: where ion-sdk-js 1.8 names the room. It sends no `sid`
 * metadata; the room is in the join, the first message of each stream (proto/ion/rtc/rtc.proto
 * `Request.join` = `JoinRequest.sid`; proto/ion/room/room.proto `Request.join` = `JoinRequest.peer`,
 * `Peer.sid`).
 */
export const DEFAULT_MESSAGE_KEY: ReadonlyMap<string, string> = new Map([
  ["rtc.RTC/Signal", "join.sid"],
  ["room.RoomSignal/Signal", "join.peer.sid"],
]);

/** The configuration used when nothing is configured. */
export const DEFAULT_BALANCER_CONFIG: BalancerConfig = Object.freeze({
  default: "p2c",
  services: new Map<string, ServiceBalancing>(),
  pinHeader: DEFAULT_PIN_HEADER,
  loadWeight: 1,
  ejection: Object.freeze({ baseMs: 1_000, maxMs: 30_000 }),
  placement: Object.freeze({
    bucket: DEFAULT_PLACEMENT_BUCKET,
    ttlMs: 24 * 3600_000,
    cacheTtlMs: 30_000,
    maxCacheEntries: 10_000,
    timeoutMs: 2_000,
    retryAfterMs: 5_000,
    replicas: 1,
    domain: "",
  }),
  firstMessageTimeoutMs: 10_000,
});

const strategyAliases: ReadonlyMap<string, StrategyName> = new Map<string, StrategyName>([
  ["round_robin", "round_robin"],
  ["round-robin", "round_robin"],
  ["roundrobin", "round_robin"],
  ["rr", "round_robin"],
  ["random", "random"],
  ["p2c", "p2c"],
  ["least_request", "p2c"],
  ["least-request", "p2c"],
  ["least_in_flight", "p2c"],
  ["least-in-flight", "p2c"],
  ["sticky", "sticky"],
]);

/**
 * Validates and normalises a raw balancer configuration, filling in defaults. Accepts camelCase or
 * snake_case keys, rejects unknown ones (typos), and throws an `Error` naming the bad path.
 *
 * ```toml
 * [balancer]
 * default = "p2c"                      # round_robin | random | p2c
 * pin_header = "x-edge-node"           # "" disables
 * [balancer.ejection]
 * base_ms = 1000
 * max_ms = 30000
 * [balancer.placement]
 * bucket = "edge_signal_placement"
 * replicas = 3                         # on a clustered JetStream
 * domain = "hub"                       # from a leaf node with a JetStream domain of its own
 * [balancer.services.rtc]
 * strategy = "sticky"
 * key = ["claim:sid", "metadata:x-ion-sid"]  # a bare name means claim, then metadata
 * message_key = { "rtc.RTC/Signal" = "join.sid" }  # then this field of the first request message
 * [balancer.services.room]
 * strategy = "sticky"                   # default key: claim sid, metadata sid, x-ion-sid;
 *                                       # default message_key: DEFAULT_MESSAGE_KEY
 * ```
 * `first_message_timeout_ms` (10000) bounds the wait for a first message that holds the key.
 * A service may also be given as just its strategy name: `services = { rtc = "sticky" }`.
 */
export function parseBalancerConfig(raw: unknown): BalancerConfig {
  const d = DEFAULT_BALANCER_CONFIG;
  if (raw === undefined || raw === null) return d;
  const o = record(raw, "balancer");
  const r = new Reader(o, "balancer");
  const def = r.str("default");
  const defaultStrategy = def === undefined ? d.default : strategy(def, "balancer.default");
  if (defaultStrategy === "sticky") throw new Error("balancer.default: sticky cannot be the default (it falls back to it)");
  const pinHeader = r.str("pinHeader", "pin_header")?.trim().toLowerCase() ?? d.pinHeader;
  if (pinHeader !== "" && !/^[0-9a-z!#$%&'*+.^_`|~-]+$/.test(pinHeader)) {
    throw new Error(`balancer.pin_header: not a valid header name: ${JSON.stringify(pinHeader)}`);
  }
  const loadWeight = r.num("loadWeight", "load_weight", 0) ?? d.loadWeight;
  const firstMessageTimeoutMs = r.num("firstMessageTimeoutMs", "first_message_timeout_ms", 0) ?? d.firstMessageTimeoutMs;

  const services = new Map<string, ServiceBalancing>();
  const rawServices = r.any("services");
  if (rawServices !== undefined) {
    for (const [name, v] of Object.entries(record(rawServices, "balancer.services"))) {
      services.set(name, service(v, `balancer.services.${name}`));
    }
  }

  let ejection = d.ejection;
  const rawEjection = r.any("ejection");
  if (rawEjection !== undefined) {
    const er = new Reader(record(rawEjection, "balancer.ejection"), "balancer.ejection");
    const baseMs = er.num("baseMs", "base_ms", 1) ?? d.ejection.baseMs;
    const maxMs = er.num("maxMs", "max_ms", 1) ?? Math.max(baseMs, d.ejection.maxMs);
    er.done();
    if (maxMs < baseMs) throw new Error("balancer.ejection: max_ms must be >= base_ms");
    ejection = { baseMs, maxMs };
  }

  let placement = d.placement;
  const rawPlacement = r.any("placement");
  if (rawPlacement !== undefined) {
    const pr = new Reader(record(rawPlacement, "balancer.placement"), "balancer.placement");
    const bucket = pr.str("bucket") ?? d.placement.bucket;
    if (!/^[-_a-zA-Z0-9]{1,64}$/.test(bucket)) {
      throw new Error(`balancer.placement.bucket: must match [-_a-zA-Z0-9]{1,64}: ${JSON.stringify(bucket)}`);
    }
    placement = {
      bucket,
      ttlMs: pr.num("ttlMs", "ttl_ms", 0) ?? d.placement.ttlMs,
      cacheTtlMs: pr.num("cacheTtlMs", "cache_ttl_ms", 0) ?? d.placement.cacheTtlMs,
      maxCacheEntries: pr.num("maxCacheEntries", "max_cache_entries", 1) ?? d.placement.maxCacheEntries,
      timeoutMs: pr.num("timeoutMs", "timeout_ms", 1) ?? d.placement.timeoutMs,
      retryAfterMs: pr.num("retryAfterMs", "retry_after_ms", 0) ?? d.placement.retryAfterMs,
      replicas: pr.num("replicas", "replicas", 1) ?? d.placement.replicas,
      domain: pr.str("domain") ?? d.placement.domain,
    };
    if (![1, 3, 5].includes(placement.replicas)) throw new Error(`balancer.placement.replicas: must be 1, 3 or 5: ${placement.replicas}`);
    if (placement.domain !== "" && !/^[-_a-zA-Z0-9]{1,64}$/.test(placement.domain)) {
      throw new Error(`balancer.placement.domain: must match [-_a-zA-Z0-9]{1,64}: ${JSON.stringify(placement.domain)}`);
    }
    pr.done();
  }
  r.done();
  return { default: defaultStrategy, services, pinHeader, loadWeight, ejection, placement, firstMessageTimeoutMs };
}

/** Parses `"claim:sid"`, `"metadata:x-ion-sid"` (alias `header:`), or a bare name (claim, then metadata). */
export function parseStickyKey(spec: unknown, path = "key"): StickyKeySource[] {
  const list = Array.isArray(spec) ? spec : [spec];
  if (list.length === 0) throw new Error(`${path}: empty`);
  const out: StickyKeySource[] = [];
  for (const s of list) {
    if (typeof s !== "string" || s.trim() === "") throw new Error(`${path}: expected a non-empty string, got ${JSON.stringify(s)}`);
    const i = s.indexOf(":");
    if (i < 0) {
      out.push({ from: "claim", name: s.trim() }, { from: "metadata", name: s.trim().toLowerCase() });
      continue;
    }
    const kind = s.slice(0, i).trim().toLowerCase();
    const name = s.slice(i + 1).trim();
    if (name === "") throw new Error(`${path}: missing name in ${JSON.stringify(s)}`);
    if (kind === "claim") out.push({ from: "claim", name });
    else if (kind === "metadata" || kind === "header") out.push({ from: "metadata", name: name.toLowerCase() });
    else throw new Error(`${path}: unknown source ${JSON.stringify(kind)} (use claim: or metadata:)`);
  }
  return out;
}

function service(v: unknown, path: string): ServiceBalancing {
  if (typeof v === "string") return { strategy: strategy(v, path), key: DEFAULT_STICKY_KEY, messageKey: DEFAULT_MESSAGE_KEY };
  const r = new Reader(record(v, path), path);
  const s = r.str("strategy");
  const rawKey = r.any("key");
  const rawMessageKey = r.any("messageKey", "message_key");
  r.done(); // first: a misspelt `strategy` is an unknown key (with a suggestion), not a missing one
  if (s === undefined) throw new Error(`${path}.strategy: required`);
  const st = strategy(s, `${path}.strategy`);
  if (rawKey !== undefined && st !== "sticky") throw new Error(`${path}.key: only sticky services take a key`);
  if (rawMessageKey !== undefined && st !== "sticky") throw new Error(`${path}.message_key: only sticky services take a key`);
  return {
    strategy: st,
    key: rawKey === undefined ? DEFAULT_STICKY_KEY : parseStickyKey(rawKey, `${path}.key`),
    messageKey: rawMessageKey === undefined ? DEFAULT_MESSAGE_KEY : parseMessageKey(rawMessageKey, `${path}.message_key`),
  };
}

/** Parses `{ "pkg.Service/Method" = "field.path" }` (a leading `/` on the method is dropped). */
export function parseMessageKey(raw: unknown, path = "message_key"): Map<string, string> {
  const out = new Map<string, string>();
  for (const [method, field] of Object.entries(record(raw, path))) {
    const m = method.replace(/^\//, "");
    if (!/^[A-Za-z_][\w.]*\/[A-Za-z_]\w*$/.test(m)) throw new Error(`${path}: not a method name (pkg.Service/Method): ${JSON.stringify(method)}`);
    if (typeof field !== "string" || !/^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$/.test(field)) {
      throw new Error(`${path}.${m}: expected a dotted field path like "join.sid", got ${JSON.stringify(field)}`);
    }
    out.set(m, field);
  }
  return out;
}

function strategy(s: string, path: string): StrategyName {
  const v = strategyAliases.get(s.trim().toLowerCase());
  if (!v) throw new Error(`${path}: unknown strategy ${JSON.stringify(s)} (round_robin, random, p2c, sticky)`);
  return v;
}

function record(v: unknown, path: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error(`${path}: expected a table/object`);
  return v as Record<string, unknown>;
}

/** Reads keys (camel or snake) from one object and remembers which were used, to reject the rest. */
class Reader {
  private readonly used = new Set<string>();
  /** Every name asked for, present or not: the known keys a typo is compared with. */
  private readonly asked = new Set<string>();
  constructor(
    private readonly o: Record<string, unknown>,
    private readonly path: string,
  ) {}
  any(...names: string[]): unknown {
    let found: unknown = undefined;
    for (const n of names) {
      this.asked.add(n);
      if (Object.prototype.hasOwnProperty.call(this.o, n)) {
        this.used.add(n);
        if (found === undefined) found = this.o[n];
      }
    }
    return found;
  }
  str(...names: string[]): string | undefined {
    const v = this.any(...names);
    if (v === undefined) return undefined;
    if (typeof v !== "string") throw new Error(`${this.path}.${names[names.length - 1]}: expected a string`);
    return v;
  }
  num(camel: string, snake: string, min: number): number | undefined {
    const v = this.any(camel, snake);
    if (v === undefined) return undefined;
    const n = typeof v === "bigint" ? Number(v) : v;
    if (typeof n !== "number" || !Number.isFinite(n) || n < min) {
      throw new Error(`${this.path}.${snake}: expected a number >= ${min}`);
    }
    return n;
  }
  done(): void {
    for (const k of Object.keys(this.o)) {
      if (!this.used.has(k)) throw new Error(`${this.path}: unknown key ${JSON.stringify(k)}${didYouMean(k, this.asked)}`);
    }
  }
}
