/**
 * NATS micro (ADR-32) as a second discovery source: every round, scatter `$SRV.INFO` and `$SRV.STATS`
 * to one reply inbox, collect the JSON answers for a short window, and put each service instance into
 * the node table with `source: "micro"` (nid = instance id, service = micro name). Instances that miss
 * `missedRounds` rounds in a row are removed.
 *
 * Each node's `extraInfo` holds `version`, `description`, `metadata`, `endpoints` (name → subject),
 * and from STATS `numRequests`, `numErrors`, `averageProcessingTimeNs` and `load`: requests per
 * second since the previous round (0 on the first).
 */
import { createInbox, type Msg, type NatsConnection } from "@nats-io/nats-core";
import { errorText, silentLog, type DiscoveryLog } from "./log.js";
import type { NodeInfo } from "../core/node-info.js";
import type { NodeTable } from "./node-table.js";
import { isSubjectToken } from "./subjects.js";

/** Options for {@link startMicroDiscovery}. */
export interface MicroDiscoveryOptions {
  /** Time between rounds. Default 2 000 ms. */
  intervalMs?: number;
  /** How long replies are collected each round. Default 300 ms. */
  windowMs?: number;
  /** Rounds an instance may miss before it is removed. Default 2. */
  missedRounds?: number;
  /** Only this micro service name (`$SRV.INFO.<name>`); default all. */
  name?: string;
  /** Skip `$SRV.STATS` (no load). Default false. */
  noStats?: boolean;
  /** Subject prefix. Default `$SRV`. */
  prefix?: string;
  /** Inbox prefix (must match the connection's, if it has permissions on it). Default `_INBOX`. */
  inboxPrefix?: string;
  log?: DiscoveryLog;
}

/** A running micro poller. */
export interface MicroDiscovery {
  /** Settles after the first round. */
  readonly ready: Promise<void>;
  /** Runs a round now (joins the running one if any). */
  refresh(): Promise<void>;
  /** Stops polling and removes the micro nodes it added. Idempotent. */
  close(): Promise<void>;
}

interface Known {
  missed: number;
  /** Last STATS sample, for the request rate. */
  requests?: number;
  at?: number;
}

interface InfoReply {
  id: string;
  name: string;
  version: string;
  description?: string;
  metadata?: Record<string, string>;
  endpoints?: { name?: string; subject?: string; metadata?: Record<string, string> | null; queue_group?: string }[];
}

interface StatsReply {
  id: string;
  name: string;
  version: string;
  endpoints?: { name?: string; num_requests?: number; num_errors?: number; average_processing_time?: number }[];
}

const INFO_TYPE = "io.nats.micro.v1.info_response";
const STATS_TYPE = "io.nats.micro.v1.stats_response";

const isStr = (v: unknown): v is string => typeof v === "string";
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Polls NATS micro services into `table` until closed. */
export function startMicroDiscovery(nc: NatsConnection, table: NodeTable, opts: MicroDiscoveryOptions = {}): MicroDiscovery {
  const intervalMs = opts.intervalMs ?? 2_000;
  const windowMs = opts.windowMs ?? 300;
  const missedRounds = opts.missedRounds ?? 2;
  const prefix = opts.prefix ?? "$SRV";
  const suffix = opts.name ? `.${opts.name}` : "";
  const log = opts.log ?? silentLog;
  const ttl = intervalMs * (missedRounds + 1) + windowMs * 2; // the table's own sweep must not beat ours
  const known = new Map<string, Known>();
  let running: Promise<void> | undefined;
  let closed = false;

  const collect = (): Promise<{ infos: Map<string, InfoReply>; stats: Map<string, StatsReply> }> => {
    const infos = new Map<string, InfoReply>();
    const stats = new Map<string, StatsReply>();
    const inbox = createInbox(opts.inboxPrefix);
    const sub = nc.subscribe(inbox, {
      callback: (err, msg: Msg) => {
        if (err || msg.data.length === 0) return; // no-responders status etc.
        let r: unknown;
        try {
          r = msg.json();
        } catch (e) {
          return log("warn", "micro: malformed reply skipped", { error: errorText(e) });
        }
        if (!isRecord(r) || !isStr(r.id) || !isStr(r.name) || !isSubjectToken(r.id) || r.name === "") {
          return log("warn", "micro: reply without a usable id/name skipped");
        }
        if (r.type === INFO_TYPE) infos.set(r.id, r as unknown as InfoReply);
        else if (r.type === STATS_TYPE) stats.set(r.id, r as unknown as StatsReply);
      },
    });
    return new Promise((resolve) => {
      try {
        nc.publish(`${prefix}.INFO${suffix}`, undefined, { reply: inbox });
        if (!opts.noStats) nc.publish(`${prefix}.STATS${suffix}`, undefined, { reply: inbox });
      } catch (e) {
        log("warn", "micro: cannot send requests", { error: errorText(e) });
      }
      setTimeout(() => {
        try {
          sub.unsubscribe();
        } catch {
          // connection closed
        }
        resolve({ infos, stats });
      }, windowMs);
    });
  };

  const round = async (): Promise<void> => {
    if (closed || nc.isClosed()) return;
    const { infos, stats } = await collect();
    if (closed) return;
    const now = Date.now();
    for (const [id, info] of infos) {
      const st = stats.get(id);
      const k = known.get(id) ?? { missed: 0 };
      k.missed = 0;
      const extraInfo: Record<string, unknown> = {
        version: isStr(info.version) ? info.version : "",
        description: isStr(info.description) ? info.description : "",
        metadata: isRecord(info.metadata) ? info.metadata : {},
        endpoints: endpointsOf(info),
      };
      if (st) {
        let requests = 0;
        let errors = 0;
        let avg = 0;
        for (const ep of Array.isArray(st.endpoints) ? st.endpoints : []) {
          if (!isRecord(ep)) continue;
          const n = Number(ep.num_requests) || 0;
          requests += n;
          errors += Number(ep.num_errors) || 0;
          avg += (Number(ep.average_processing_time) || 0) * n;
        }
        const load = k.requests !== undefined && k.at !== undefined && now > k.at ? Math.max(0, ((requests - k.requests) * 1000) / (now - k.at)) : 0;
        Object.assign(extraInfo, { numRequests: requests, numErrors: errors, averageProcessingTimeNs: requests ? Math.round(avg / requests) : 0, load });
        k.requests = requests;
        k.at = now;
      }
      known.set(id, k);
      const metadata = extraInfo.metadata as Record<string, unknown>;
      const node: NodeInfo = {
        nid: id,
        service: info.name,
        dc: isStr(metadata.dc) ? metadata.dc : "",
        rpc: { protocol: "nats-micro", addr: "", params: extraInfo.endpoints as Record<string, string> },
        extraInfo,
        source: "micro",
        lastSeen: now,
      };
      const current = table.get(id);
      if (current && current.source !== "micro") continue; // a discovery node owns this id
      table.upsert(node, ttl);
    }
    for (const [id, k] of known) {
      if (infos.has(id)) continue;
      if (++k.missed >= missedRounds) {
        known.delete(id);
        if (table.get(id)?.source === "micro") table.remove(id, "expired");
      }
    }
  };

  const refresh = (): Promise<void> => {
    if (!running) {
      running = round()
        .catch((e) => log("error", "micro: round failed", { error: errorText(e) }))
        .finally(() => (running = undefined));
    }
    return running;
  };

  const timer = setInterval(() => void refresh(), intervalMs);
  const ready = refresh();

  return {
    ready,
    refresh,
    close: async () => {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      await running;
      for (const id of known.keys()) if (table.get(id)?.source === "micro") table.remove(id, "closed");
      known.clear();
    },
  };
}

/** Endpoint name → subject (the last one wins on duplicate names). */
function endpointsOf(info: InfoReply): Record<string, string> {
  const out: Record<string, string> = {};
  for (const ep of Array.isArray(info.endpoints) ? info.endpoints : []) {
    if (isRecord(ep) && isStr(ep.name) && isStr(ep.subject)) Object.defineProperty(out, ep.name, { value: ep.subject, enumerable: true, writable: true, configurable: true });
  }
  return out;
}
