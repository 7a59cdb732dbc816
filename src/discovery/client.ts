/**
 * nats-discovery client (ION compatible, spec §2.4–2.7) over any nats-core connection: keep a node
 * registered, look nodes up, and watch them come and go.
 *
 * Unlike Go, a malformed or unknown message never ends a watch: it is logged and skipped.
 */
import type { Msg, NatsConnection, Subscription } from "@nats-io/nats-core";
import { errorText, silentLog, type DiscoveryLog } from "./log.js";
import {
  decodeGetResponse,
  decodeRequest,
  decodeResponse,
  encodeRequest,
  infoToNode,
  nodeToInfo,
  type DiscoveryNode,
} from "./messages.js";
import type { NodeInfo } from "../core/node-info.js";
import { PUBLISH_PREFIX, getSubject, isSubjectToken, publishSubject, watchSubject } from "./subjects.js";

/** Options for {@link DiscoveryClient}. */
export interface DiscoveryClientOptions {
  /** Where malformed messages, failed requests and rejections are reported. Default: silent. */
  log?: DiscoveryLog;
  /** Timeout of save/update/delete/get requests. Default 15 000 ms (as Go). */
  requestTimeoutMs?: number;
  /** Period of `update` keepalives. Default 2 000 ms (as Go v0.3.0). */
  keepAliveMs?: number;
}

/** A registration kept alive by {@link DiscoveryClient.keepAlive}. */
export interface KeepAliveHandle {
  /** The node as it is sent. */
  readonly node: DiscoveryNode;
  /** Settles after the first `save` was answered: true if a registry accepted it. */
  readonly ready: Promise<boolean>;
  /** Replaces the node's ExtraInfo (e.g. a new `load`); sent with the next update. */
  setExtraInfo(extraInfo: Record<string, unknown> | null): void;
  /** Stops the keepalives and sends `delete` (awaits the reply or its failure). Idempotent. */
  close(): Promise<void>;
  /** Stops the keepalives WITHOUT a delete, as if the process died (for tests and crash drills). */
  abandon(): void;
}

/** What a watcher reports (Go: NodeUp on save, NodeKeepalive on update, NodeDown on delete). */
export type NodeState = "up" | "down" | "keepalive";

/** One watch event. */
export interface WatchEvent {
  readonly state: NodeState;
  readonly node: NodeInfo;
  /** The discovery Node as received. */
  readonly raw: DiscoveryNode;
  /**
   * True for registry events (`node.discovery.…`) and Get results; false for a node's own save or
   * update observed directly on `node.publish.…` (registries do not forward updates).
   */
  readonly fromRegistry: boolean;
}

/** Options for {@link DiscoveryClient.watch}. */
export interface WatchOptions {
  /** Start with `get(service)` and report each result as `up` (as ION's Node.Watch). Default true. */
  initialGet?: boolean;
  /**
   * Also observe nodes' own requests on `node.publish.<service>.>`: `update` as a keepalive, `save` as
   * up (both with `fromRegistry: false`). Default true.
   */
  observeKeepalives?: boolean;
}

/** A running watch. */
export interface Watcher {
  /** Settles when the subscriptions are live and the initial Get is done (or failed; see the log). */
  readonly ready: Promise<void>;
  /**
   * Re-reads the registry (a Get) and reports each node as `up`, as the initial Get did; joins a
   * re-read already running. Resolves to the number of nodes, or undefined when the Get failed (logged).
   */
  refresh(): Promise<number | undefined>;
  /** Unsubscribes. Idempotent. */
  close(): Promise<void>;
}

/** A discovery client bound to one NATS connection. */
export class DiscoveryClient {
  private readonly log: DiscoveryLog;
  private readonly timeout: number;
  private readonly period: number;

  constructor(
    readonly nc: NatsConnection,
    opts: DiscoveryClientOptions = {},
  ) {
    this.log = opts.log ?? silentLog;
    this.timeout = opts.requestTimeoutMs ?? 15_000;
    this.period = opts.keepAliveMs ?? 2_000;
  }

  /**
   * Registers `node` now (`save`), refreshes it every keepalive period (`update`) and removes it on
   * `close()` (`delete`). Throws at once if the node cannot be encoded (e.g. an ExtraInfo value Go
   * could not decode) or its NID/Service/DC cannot form `node.publish.<Service>.<DC>.<NID>`.
   */
  keepAlive(node: NodeInfo | DiscoveryNode): KeepAliveHandle {
    let current: DiscoveryNode = "NID" in node ? node : infoToNode(node);
    if (!isSubjectToken(current.NID) || !isSubjectToken(current.Service) || !/^[^\s*>]+$/.test(current.DC)) {
      throw new Error(`discovery: node ${JSON.stringify(current.NID)} needs a NID and Service that are single NATS tokens and a non-empty DC`);
    }
    const subject = publishSubject(current);
    let updateBytes = encodeRequest({ Action: "update", Node: current });
    const saveBytes = encodeRequest({ Action: "save", Node: current });
    let inflight = false;
    let closing: Promise<void> | undefined;
    let stopped = false;

    // A keepalive waits at most one period for its reply: a request stuck in a NATS outage must not
    // hold back the next update (the node would expire everywhere while it is alive).
    const updateTimeout = Math.min(this.timeout, this.period);
    const send = async (action: string, bytes: Uint8Array): Promise<boolean> => {
      if (this.nc.isClosed()) return false;
      try {
        const reply = await this.nc.request(subject, bytes, { timeout: action === "update" ? updateTimeout : this.timeout });
        const res = decodeResponse(reply.data);
        if (!res.Success) this.log("warn", "discovery: registry refused", { action, nid: current.NID, reason: res.Reason });
        return res.Success;
      } catch (e) {
        this.log("warn", "discovery: keepalive request failed", { action, nid: current.NID, error: errorText(e) });
        return false;
      }
    };

    const timer = setInterval(() => {
      if (inflight || stopped) return;
      inflight = true;
      void send("update", updateBytes).finally(() => (inflight = false));
    }, this.period);
    const ready = send("save", saveBytes);

    const stop = () => {
      stopped = true;
      clearInterval(timer);
    };
    return {
      get node() {
        return current;
      },
      ready,
      setExtraInfo: (extraInfo) => {
        const next = { ...current, ExtraInfo: extraInfo && Object.keys(extraInfo).length > 0 ? extraInfo : null };
        updateBytes = encodeRequest({ Action: "update", Node: next });
        current = next;
      },
      close: () => {
        if (!closing) {
          stop();
          closing = send("delete", encodeRequest({ Action: "delete", Node: current })).then(() => undefined);
        }
        return closing;
      },
      abandon: stop,
    };
  }

  /** Asks the registry for the nodes of `service` (`*` = all) as discovery Nodes. Throws on timeout/no registry. */
  async getNodes(service: string, params: Record<string, string> = {}): Promise<DiscoveryNode[]> {
    // nats.js 3.x only refuses empty subjects or whitespace, so `node.publish.*` (ION's Get("*")) is sent as is.
    const payload = encodeRequest({ Action: "get", Service: service, Params: Object.keys(params).length > 0 ? params : null });
    const reply = await this.nc.request(getSubject(service), payload, { timeout: this.timeout });
    return decodeGetResponse(reply.data).Nodes ?? [];
  }

  /** Asks the registry for the nodes of `service` (`*` = all). Throws on timeout or when no registry answers. */
  async get(service: string, params: Record<string, string> = {}): Promise<NodeInfo[]> {
    const now = Date.now();
    return (await this.getNodes(service, params)).map((n) => nodeToInfo(n, now));
  }

  /**
   * Watches `service` (`*` = all): optionally a Get first (each result → `up`), then registry events
   * on `node.discovery.<service>.>` (save → up, update → keepalive, delete → down). Events that arrive
   * during the Get are held and delivered after its results, in order.
   */
  watch(service: string, cb: (event: WatchEvent) => void, opts: WatchOptions = {}): Watcher {
    const log = this.log;
    let held: WatchEvent[] | undefined = opts.initialGet === false ? undefined : [];
    let closed = false;

    const deliver = (ev: WatchEvent) => {
      if (closed) return;
      // Nodes are called on `nrpc.<NID>.…`: a NID (or service) that is not one subject token would put
      // wildcards, spaces or extra tokens into the subjects we publish. Such a node is never usable.
      if (ev.state !== "down" && (!isSubjectToken(ev.node.nid) || !isSubjectToken(ev.node.service))) {
        log("warn", "discovery: node with a NID or service that is not one subject token skipped", { nid: ev.node.nid, service: ev.node.service });
        return;
      }
      if (held) return void held.push(ev);
      try {
        cb(ev);
      } catch (e) {
        log("error", "discovery: watch callback threw", { error: errorText(e) });
      }
    };

    const parse = (msg: Msg): ReturnType<typeof decodeRequest> | undefined => {
      try {
        return decodeRequest(msg.data);
      } catch (e) {
        log("warn", "discovery: malformed message skipped", { subject: msg.subject, error: errorText(e) });
        return undefined;
      }
    };

    const events = this.nc.subscribe(watchSubject(service), {
      callback: (err, msg) => {
        if (err) return log("error", "discovery: watch subscription error", { error: errorText(err) });
        if (msg.data.length === 0) return; // header-only status messages
        const req = parse(msg);
        if (!req) return;
        const state: NodeState | undefined = req.Action === "save" ? "up" : req.Action === "update" ? "keepalive" : req.Action === "delete" ? "down" : undefined;
        if (!state) return log("warn", "discovery: unknown action skipped", { subject: msg.subject, action: req.Action });
        deliver({ state, node: nodeToInfo(req.Node), raw: req.Node, fromRegistry: true });
      },
    });

    let keepalives: Subscription | undefined;
    if (opts.observeKeepalives !== false) {
      keepalives = this.nc.subscribe(`${PUBLISH_PREFIX}.${service}.>`, {
        callback: (err, msg) => {
          if (err || msg.data.length === 0) return;
          const req = parse(msg);
          if (req?.Action === "update") deliver({ state: "keepalive", node: nodeToInfo(req.Node), raw: req.Node, fromRegistry: false });
          else if (req?.Action === "save") deliver({ state: "up", node: nodeToInfo(req.Node), raw: req.Node, fromRegistry: false });
        },
      });
    }

    const ready = (async () => {
      try {
        await this.nc.flush();
        if (held) {
          let nodes: DiscoveryNode[] = [];
          try {
            nodes = await this.getNodes(service);
          } catch (e) {
            log("warn", "discovery: initial get failed", { service, error: errorText(e) });
          }
          const buffered = held;
          held = undefined;
          const now = Date.now();
          for (const n of nodes) deliver({ state: "up", node: nodeToInfo(n, now), raw: n, fromRegistry: true });
          for (const ev of buffered) deliver(ev);
        }
      } catch (e) {
        held = undefined;
        log("error", "discovery: watch start failed", { service, error: errorText(e) });
      }
    })();

    let refreshing: Promise<number | undefined> | undefined;
    const refresh = (): Promise<number | undefined> =>
      (refreshing ??= (async () => {
        try {
          await ready;
          const nodes = await this.getNodes(service);
          const now = Date.now();
          for (const n of nodes) deliver({ state: "up", node: nodeToInfo(n, now), raw: n, fromRegistry: true });
          return nodes.length;
        } catch (e) {
          if (!closed) log("warn", "discovery: registry re-read failed", { service, error: errorText(e) });
          return undefined;
        } finally {
          refreshing = undefined;
        }
      })());

    return {
      ready,
      refresh,
      close: async () => {
        if (closed) return;
        closed = true;
        held = undefined;
        for (const s of [events, keepalives]) {
          try {
            s?.unsubscribe();
          } catch {
            // connection already closed
          }
        }
      },
    };
  }
}
