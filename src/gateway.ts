/**
 * The gateway, wired: NATS connection → nrpc client, discovery (node table kept current from
 * nats-discovery and NATS micro), authenticator, balancer, Director, the Hono app. Runtime-neutral:
 * each runtime entry opens the NATS connection and serves `gateway.app`.
 */
import { createFileRegistry, createRegistry, fromBinary, type Registry } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Hono } from "hono";
import { allowedOrigins, createApp, type AppDeps, type WebSocketUpgrader } from "./app.js";
import { createAuthenticator, parseAuthConfig, type Authenticator } from "./auth/index.js";
import { createBalancer, openPlacementStore, parseBalancerConfig, stickyMessageReaders, usesStickyPlacement, type Balancer, type PlacementStore } from "./balancer/index.js";
import type { Config } from "./config/index.js";
import { createDirector, createRouteTable, type Director, type DirectorObserver, type MethodKind } from "./director/index.js";
import { announcesOrderedNrpc, DiscoveryClient, NodeTable, randomNid, startMicroDiscovery, startRegistry, syncDiscovery, type KeepAliveHandle, type MicroDiscovery, type Registry as DiscoveryRegistry, type SyncedDiscovery } from "./discovery/index.js";
import { file_demo_v1_echo } from "./gen/demo/v1/echo_pb.js";
import { file_ion_room_room } from "./gen/ion/room/room_pb.js";
import { file_ion_rtc_rtc } from "./gen/ion/rtc/rtc_pb.js";
import { NrpcClient } from "./nrpc/index.js";
import { CallLabeler, type MethodSchema } from "./observability/call-labels.js";
import { CallStats, combineObservers } from "./observability/call-stats.js";
import { gatherRooms, LiveRooms, serveRooms, type RoomRow } from "./observability/live-rooms.js";
import { silentLogger, type Logger } from "./observability/logger.js";
import { createJsonCodecLookup, createMethodSpecLookup, serveContext, type MethodSpecLookup, type CallHandler, type ProtocolOptions } from "./protocol/index.js";
import type { RpcServing } from "./protocol/dispatch.js";
import { settleBy, shutdownTailMs } from "./settle-by.js";

/** What a runtime entry gives the gateway. */
export interface GatewayOptions {
  config: Config;
  /** An open NATS connection (WebSocket on the edge; TCP or WebSocket on Node). */
  nc: NatsConnection;
  log?: Logger;
  /** Extra observers (e.g. Prometheus metrics on Node). */
  observers?: DirectorObserver[];
  /** Binary FileDescriptorSets (from `buf build -o`), for JSON support of their services. */
  descriptorSets?: Uint8Array[];
  websocket?: WebSocketUpgrader;
  remoteAddress?: AppDeps["remoteAddress"];
  transportClosed?: AppDeps["transportClosed"];
  drainBodyBeforeEnd?: AppDeps["drainBodyBeforeEnd"];
  metrics?: AppDeps["metrics"];
  assets?: AppDeps["assets"];
}

/**
 * The options every runtime passes to its protocol adapters: the shared protocol limits, plus the
 * idle limits of sockets that are not a call yet (the grpc-websockets header frame wait, and on Node
 * the one-port server's first-bytes and HTTP/2 idle-session times).
 */
export interface GatewayProtocolOptions extends ProtocolOptions {
  readonly headerTimeoutMs: number;
  readonly firstBytesTimeoutMs: number;
  readonly idleSessionTimeoutMs: number;
}

/** A running gateway. */
export interface Gateway {
  readonly app: Hono;
  readonly nid: string;
  readonly director: Director;
  /** The CallHandler adapters use (Director behind the connection limits); also `serving.context.handler`. */
  readonly handler: CallHandler;
  /** The protocol options as configured (WebSocket sessions take them; RPCs are served with `serving`). */
  readonly protocol: GatewayProtocolOptions;
  /**
   * How RPCs are dispatched and served, built once here: the app serves with it, and the Node entry's
   * gate and one-port server with the same object (src/runtime/node/).
   */
  readonly serving: RpcServing;
  readonly table: NodeTable;
  readonly stats: CallStats;
  /** This gateway's live rooms (calls of sticky services by room). */
  readonly liveRooms: LiveRooms;
  /** Every gateway's live rooms, gathered over NATS (see src/observability/live-rooms.ts). */
  rooms(): Promise<{ rooms: RoomRow[]; gateways: number }>;
  readonly auth: Authenticator;
  readonly balancer: Balancer;
  readonly client: NrpcClient;
  readonly registry: DiscoveryRegistry | undefined;
  /** NATS connected and discovery synced, and not draining. */
  ready(): boolean;
  natsConnected(): boolean;
  /**
   * Graceful stop, finished within `drainMs` whatever the state of NATS: not ready, no new calls,
   * in-flight calls may finish until the last {@link shutdownTailMs} of it, then the rest get
   * End{CANCELLED} upstream and UNAVAILABLE downstream; discovery is left (a delete, unsubscribes) in
   * the time that is left, and given up at the deadline when NATS does not answer. Does not close
   * the NATS connection (the runtime entry owns it).
   */
  close(drainMs?: number): Promise<void>;
}

/**
 * Builds the schema registry (JSON support, sticky keys read from request messages): the compiled
 * demo service and ION's rtc and room signal services (proto/ion/), plus descriptor sets.
 */
export function schemaRegistry(descriptorSets: Uint8Array[] = []): Registry {
  const regs: Registry[] = [createRegistry(file_demo_v1_echo, file_ion_rtc_rtc, file_ion_room_room)];
  for (const bytes of descriptorSets) regs.push(createFileRegistry(fromBinary(FileDescriptorSetSchema, bytes)));
  return createRegistry(...regs);
}

/** The kind of each method the schemas know (the Director fails a unary reply that ends OK without its message). */
export function methodKindLookup(spec: MethodSpecLookup): (service: string, method: string) => MethodKind | undefined {
  return (service, method) => spec("/" + service + "/" + method)?.kind;
}

/** Whether the schemas declare a method: true, false (service known, method not), undefined (no schema for the service). */
export function methodSchema(spec: MethodSpecLookup): MethodSchema {
  return (service, method) => {
    const m = spec("/" + service + "/" + method);
    return m === undefined ? undefined : m !== null;
  };
}

/** Creates and starts the gateway. */
export async function createGateway(opts: GatewayOptions): Promise<Gateway> {
  const { config, nc } = opts;
  const log = opts.log ?? silentLogger;
  const nid = config.nid || randomNid("signal");
  const dlog = (level: "debug" | "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>) => log[level](msg, fields);
  // Config first: a bad [signal.jwt]/[edge.auth] or [edge.balancer] fails here, before anything touches
  // NATS (resolveConfig has already checked both; this is for a Config built by hand).
  // Keys are imported (WebCrypto) here too, so unusable key material fails before NATS as well.
  const authConfig = parseAuthConfig(config.auth);
  const auth = createAuthenticator(authConfig);
  await auth.ready();
  const balancerConfig = parseBalancerConfig(config.balancer);
  const schemas = schemaRegistry(opts.descriptorSets); // a bad descriptor set fails here too
  const methods = createMethodSpecLookup(schemas);
  stickyMessageReaders(balancerConfig, schemas); // a message_key naming an unknown method or field fails here

  // NATS state.
  let connected = !nc.isClosed();
  let watcher: SyncedDiscovery | undefined;
  let draining = false;
  let checkMaxPayload = (): void => {}; // set once the nrpc client exists
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") {
        connected = false;
        log.warn("NATS disconnected", { server: (s as { server?: string }).server });
      } else if (s.type === "reconnect") {
        connected = true;
        log.info("NATS reconnected", { server: (s as { server?: string }).server });
        checkMaxPayload();
        // Registry events published while we were away are lost: re-read the registry.
        void watcher?.resync("NATS reconnect");
      }
    }
  })().catch(() => {});
  void nc.closed().then(() => (connected = false));

  // Discovery: an embedded registry (optional), the watch, NATS micro, and our own registration.
  const registry = config.registry ? await startRegistry(nc, { log: dlog }) : undefined;
  const table = new NodeTable({ expireMs: config.nodeExpirySeconds * 1000, log: dlog });
  const discovery = new DiscoveryClient(nc, { log: dlog });
  let synced = false;
  watcher = await syncDiscovery(nc, table, { client: discovery, log: dlog, resyncMs: config.discoveryResyncSeconds * 1000 });
  synced = true;
  const micro: MicroDiscovery | undefined = config.micro ? startMicroDiscovery(nc, table, { log: dlog }) : undefined;
  const self: KeepAliveHandle = discovery.keepAlive({
    nid,
    service: "signal",
    dc: config.dc,
    rpc: { protocol: "nats-grpc", addr: config.natsUrl, params: {} },
    extraInfo: {},
    source: "discovery",
    lastSeen: Date.now(),
  });

  // Auth, balancing, forwarding.
  const store: PlacementStore | undefined = usesStickyPlacement(balancerConfig)
    ? await openPlacementStore(nc, { ...balancerConfig.placement, onError: (e) => log.warn("placement store", { error: String(e) }) })
    : undefined;
  const balancer = createBalancer(balancerConfig, { store, schemas, onError: (e, where) => log.warn("balancer", { where, error: String(e) }) });
  const client = new NrpcClient(nc, { nid, maxMetadataBytes: config.maxMetadataBytes, goFrameGapMs: config.goFrameGapMs });
  // A request message must fit in one NATS message (nats-grpc envelope included). A larger
  // max_message_bytes is not fatal: such messages are refused RESOURCE_EXHAUSTED (src/nrpc/client.ts),
  // but the operator is told at start, and again after a reconnect to a server with a lower limit.
  let reportedPayload = 0;
  checkMaxPayload = () => {
    const largest = client.maxMessageBytes;
    if (largest <= 0 || config.maxMessageBytes <= largest || client.maxPayload === reportedPayload) return;
    reportedPayload = client.maxPayload;
    log.warn("edge.max_message_bytes is larger than the NATS server's max_payload allows: larger request messages are refused with RESOURCE_EXHAUSTED (raise max_payload in the nats-server config, or lower max_message_bytes)", {
      max_message_bytes: config.maxMessageBytes,
      max_payload: client.maxPayload,
      largest_request_message: largest,
    });
  };
  checkMaxPayload();
  const stats = new CallStats(Date.now, new CallLabeler({ schema: methodSchema(methods), maxMethods: config.metricsMaxMethods }));
  const liveRooms = new LiveRooms(nid);
  const roomsSub = serveRooms(nc, liveRooms);
  const director = createDirector({
    client,
    routes: createRouteTable(config.services, config.routes),
    nodes: table,
    auth,
    balancer,
    observer: combineObservers(stats, liveRooms, ...(opts.observers ?? []), {
      callEnded: (info, err) => {
        if (err && err.code !== Code.Canceled) log.debug("call failed", { call: info.id, path: info.path, nid: info.nid, code: err.code, error: err.rawMessage });
      },
    }),
    forwardAuthorization: config.forwardAuthorization,
    forwardCookies: config.forwardCookies,
    nodeHeader: balancer.pinHeader,
    maxBufferedBytes: config.maxBufferedBytes,
    methodKind: methodKindLookup(methods),
    goNode: (service, node) => {
      const mode = config.goNodes[service] ?? "auto";
      return mode === "on" || (mode === "auto" && !announcesOrderedNrpc(node));
    },
    firstMessageTimeoutMs: balancerConfig.firstMessageTimeoutMs,
    tokenRoomClaim: authConfig.enabled && authConfig.roomClaim !== "" ? authConfig.roomClaim : undefined,
  });
  const offChange = table.onChange((ch) => {
    if (ch.type === "down") {
      director.nodeDown(ch.node.nid);
      log.info("node down", { nid: ch.node.nid, service: ch.node.service, reason: ch.reason });
    } else if (ch.type === "up") log.info("node up", { nid: ch.node.nid, service: ch.node.service, source: ch.node.source });
  });

  // Connection limits: per client address and in total.
  const perIp = new Map<string, number>();
  let open = 0;
  const handler: CallHandler = async (call, responder) => {
    const ip = call.remote.address ?? "";
    const n = perIp.get(ip) ?? 0;
    if ((config.maxCalls > 0 && open >= config.maxCalls) || (config.maxCallsPerIp > 0 && n >= config.maxCallsPerIp)) {
      responder.end(new ConnectError("too many open calls", Code.ResourceExhausted), new Map());
      return;
    }
    open++;
    perIp.set(ip, n + 1);
    const release = () => {
      open--;
      const m = (perIp.get(ip) ?? 1) - 1;
      if (m <= 0) perIp.delete(ip);
      else perIp.set(ip, m);
    };
    try {
      await director.handle(call, responder);
    } finally {
      // A call counts until its transport is done: an HTTP/2 stream whose call ended at the buffer
      // limit still holds the response bytes its client has not read (issue 16: waves of streams
      // that never read took the share again and again while their bytes stayed queued).
      if (call.closed) void call.closed.then(release);
      else release();
    }
  };

  const protocol: GatewayProtocolOptions = {
    headerTimeoutMs: config.idleTimeoutMs,
    firstBytesTimeoutMs: config.idleTimeoutMs,
    idleSessionTimeoutMs: config.idleSessionTimeoutMs,
    maxMessageBytes: config.maxMessageBytes,
    maxMetadataBytes: config.maxMetadataBytes,
    defaultTimeoutMs: config.defaultTimeoutMs || undefined,
    maxTimeoutMs: config.maxTimeoutMs || undefined,
    json: createJsonCodecLookup(schemas),
    methods,
  };
  const serving: RpcServing = {
    dispatch: { origins: allowedOrigins(config), methods, assets: opts.assets !== undefined },
    context: serveContext(handler, protocol),
    websocket: protocol,
  };
  const ready = () => connected && synced && !draining;
  const natsConnected = () => connected;
  // Each gateway registers in discovery as `signal`: wait for that many answers, or 500 ms.
  const rooms = () => gatherRooms(nc, table.nodes("signal").length, 500);
  const app = createApp({
    rooms,
    config,
    director,
    serving,
    table,
    stats,
    auth,
    balancer,
    log,
    nid,
    ready,
    natsConnected,
    websocket: opts.websocket,
    remoteAddress: opts.remoteAddress,
    transportClosed: opts.transportClosed,
    drainBodyBeforeEnd: opts.drainBodyBeforeEnd,
    metrics: opts.metrics,
    assets: opts.assets,
  });

  return {
    app,
    nid,
    director,
    handler,
    protocol,
    serving,
    table,
    stats,
    liveRooms,
    rooms,
    auth,
    balancer,
    client,
    registry,
    ready,
    natsConnected,
    async close(drainMs = config.drainTimeoutMs) {
      if (draining) return;
      draining = true;
      const deadline = Date.now() + drainMs;
      director.stopAccepting();
      const idle = await director.idle(Math.max(0, drainMs - shutdownTailMs(drainMs)));
      if (!idle) {
        log.warn("drain timeout: cancelling calls", { inFlight: director.inFlight });
        director.cancelAll("gateway shutting down");
        await director.idle(Math.max(0, Math.min(250, deadline - Date.now())));
      }
      offChange();
      roomsSub.unsubscribe();
      // Each of these may wait on NATS (the discovery delete is a request): bounded by the deadline.
      const left = await settleBy(Promise.allSettled([micro?.close(), watcher?.close(), self.close(), balancer.close()]), deadline);
      client.close();
      table.close();
      const stopped = await settleBy(registry?.stop(), deadline);
      if (!left || !stopped) log.warn("shutdown: discovery not left cleanly within drain_timeout_ms (NATS not answering)", { drain_timeout_ms: drainMs });
    },
  };
}
