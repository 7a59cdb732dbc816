/**
 * An ION-compatible nats-discovery registry (spec §2.5): Go nodes register with it unchanged.
 *
 * It listens on `node.publish.>` (no queue group, like Go), keeps nodes by `DC.NID`, expires them
 * 5 s after their last save/update (checked every second; time the process did not run, seen as
 * late timer ticks, does not count: keepalives queued meanwhile are read first), republishes the original bytes of
 * accepted saves/deletes on `node.discovery.…`, and answers Gets with a gob GetResponse.
 * Unlike Go, a malformed message is answered with `Response{Success:false}` (when it has a reply
 * subject) and skipped: it never stops the registry.
 */
import type { Msg, NatsConnection } from "@nats-io/nats-core";
import { errorText, silentLog, type DiscoveryLog } from "./log.js";
import {
  decodeRequest,
  encodeGetResponse,
  encodeRequest,
  encodeResponse,
  nodeKey,
  nodeToInfo,
  type DiscoveryNode,
} from "./messages.js";
import type { NodeInfo } from "../core/node-info.js";
import { PUBLISH_PREFIX, discoverySubjectFor } from "./subjects.js";
import { driftInterval } from "./drift-interval.js";

/** Node lifecycle actions a registry hands to {@link RegistryOptions.onAction}. */
export type RegistryAction = "save" | "update" | "delete";

/** Options for {@link startRegistry}. */
export interface RegistryOptions {
  /** Time after the last save/update before a node is expired. Default 5 000 ms (Go DefaultExpire). */
  expireMs?: number;
  /** How often expiry is checked. Default 1 000 ms. */
  checkMs?: number;
  /**
   * Go's `handleNodeAction`: accept (`true`/undefined) or reject (`false` or a reason string) a
   * save/update/delete. A rejected save is not stored; a rejected update only changes the reply.
   * Default: accept everything (as ION's islb).
   */
  onAction?: (action: RegistryAction, node: DiscoveryNode) => boolean | string | void;
  /**
   * Go's `handleGetNodes`: picks the nodes to return. Default: every stored node whose Service
   * equals `service`, or all nodes for `*` (as ION's islb).
   */
  onGet?: (service: string, params: Readonly<Record<string, unknown>>, nodes: readonly DiscoveryNode[]) => DiscoveryNode[];
  /** Most nodes held at once; saves beyond it are refused (flood guard). Default 10 000. */
  maxNodes?: number;
  log?: DiscoveryLog;
  /** Clock (ms). Default Date.now. */
  now?: () => number;
}

/** A running registry. */
export interface Registry {
  /** Unsubscribes and stops the expiry timer (no deletes are published). Idempotent. */
  stop(): Promise<void>;
  /** The registered nodes; `lastSeen` is the last save/update. */
  nodes(): NodeInfo[];
}

interface Entry {
  node: DiscoveryNode;
  /** Where watchers hear about it: the save's subject with the prefix swapped. */
  readonly discoverySubject: string;
  expire: number;
  lastSeen: number;
}

/** Starts a registry on `nc`; resolves once its subscription is live on the server. */
export async function startRegistry(nc: NatsConnection, opts: RegistryOptions = {}): Promise<Registry> {
  const expireMs = opts.expireMs ?? 5_000;
  const log = opts.log ?? silentLog;
  const now = opts.now ?? Date.now;
  const maxNodes = opts.maxNodes ?? 10_000;
  const entries = new Map<string, Entry>();

  /** Go's handleNodeAction, guarded: returns "" when accepted, else the reason. */
  const judge = (action: RegistryAction, node: DiscoveryNode): string => {
    if (!opts.onAction) return "";
    try {
      const r = opts.onAction(action, node);
      return r === false ? "rejected" : typeof r === "string" ? r || "rejected" : "";
    } catch (e) {
      return errorText(e);
    }
  };

  const reply = (msg: Msg, reason: string) => {
    if (msg.reply) msg.respond(encodeResponse({ Success: reason === "", Reason: reason }));
  };

  const publish = (subject: string, data: Uint8Array) => {
    try {
      nc.publish(subject, data);
    } catch (e) {
      log("error", "discovery registry: publish failed", { subject, error: errorText(e) });
    }
  };

  const select = (service: string, params: Record<string, unknown>): DiscoveryNode[] => {
    const all: DiscoveryNode[] = [];
    for (const e of entries.values()) all.push(e.node);
    if (opts.onGet) {
      try {
        return opts.onGet(service, params, all);
      } catch (e) {
        log("warn", "discovery registry: onGet threw; answering with no nodes", { service, error: errorText(e) });
        return [];
      }
    }
    return service === "*" ? all : all.filter((n) => n.Service === service);
  };

  /** Stores a node learnt from a save (or an update of an unknown node) and republishes its bytes. */
  const store = (msg: Msg, id: string, node: DiscoveryNode, t: number): string => {
    const reason = judge("save", node);
    if (reason) return reason;
    if (entries.size >= maxNodes) return "registry full";
    const discoverySubject = discoverySubjectFor(msg.subject)!;
    entries.set(id, { node, discoverySubject, expire: t + expireMs, lastSeen: t });
    publish(discoverySubject, msg.data);
    return "";
  };

  const handle = (msg: Msg) => {
    if (msg.data.length === 0) return; // header-only status messages
    let req;
    try {
      req = decodeRequest(msg.data);
    } catch (e) {
      log("warn", "discovery registry: malformed message skipped", { subject: msg.subject, error: errorText(e) });
      return reply(msg, `malformed request: ${errorText(e)}`);
    }
    const t = now();
    switch (req.Action) {
      case "get": {
        const nodes = select(req.Service, req.Params ?? {});
        if (msg.reply) msg.respond(encodeGetResponse({ Nodes: nodes }));
        return;
      }
      case "save": {
        const id = nodeKey(req.Node);
        return reply(msg, entries.has(id) ? "" : store(msg, id, req.Node, t));
      }
      case "update": {
        const id = nodeKey(req.Node);
        const e = entries.get(id);
        if (!e) return reply(msg, store(msg, id, req.Node, t));
        e.expire = t + expireMs;
        e.lastSeen = t;
        e.node = req.Node; // keep the newest ExtraInfo (e.g. load) for Get answers
        return reply(msg, judge("update", req.Node));
      }
      case "delete": {
        const id = nodeKey(req.Node);
        const e = entries.get(id);
        if (!e) return reply(msg, "");
        const reason = judge("delete", req.Node);
        if (!reason) publish(e.discoverySubject, msg.data);
        entries.delete(id);
        return reply(msg, reason);
      }
      default:
        log("warn", "discovery registry: unknown action skipped", { subject: msg.subject, action: req.Action });
        return reply(msg, `unknown action ${JSON.stringify(req.Action)}`);
    }
  };

  const sub = nc.subscribe(`${PUBLISH_PREFIX}.>`, {
    callback: (err, msg) => {
      if (err) return log("error", "discovery registry: subscription error", { error: errorText(err) });
      try {
        handle(msg);
      } catch (e) {
        log("error", "discovery registry: message handling failed", { subject: msg.subject, error: errorText(e) });
      }
    },
  });

  const stopTimer = driftInterval(opts.checkMs ?? 1_000, (late) => {
    if (late > 0) for (const e of entries.values()) e.expire += late;
    const t = now();
    for (const [id, e] of entries) {
      if (e.expire > t) continue;
      entries.delete(id);
      try {
        publish(e.discoverySubject, encodeRequest({ Action: "delete", Node: e.node }));
      } catch (err) {
        log("error", "discovery registry: cannot encode expiry delete", { id, error: errorText(err) });
      }
      judge("delete", e.node);
      log("info", "discovery registry: node expired", { id });
    }
  });

  try {
    await nc.flush();
  } catch (e) {
    stopTimer();
    sub.unsubscribe();
    throw e;
  }

  let stopped = false;
  return {
    stop: async () => {
      if (stopped) return;
      stopped = true;
      stopTimer();
      try {
        sub.unsubscribe();
      } catch {
        // connection already closed
      }
    },
    nodes: () => Array.from(entries.values(), (e) => nodeToInfo(e.node, e.lastSeen)),
  };
}
