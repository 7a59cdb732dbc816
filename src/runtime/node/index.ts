/**
 * The Node entry: one port for HTTP/1.1 (Connect, gRPC-Web, grpc-websockets upgrades, the status
 * page) and cleartext HTTP/2 (native gRPC, Connect bidi), Prometheus metrics, NATS over TCP or
 * WebSocket. Node only.
 */
import "./polyfills.js";
import { readFile } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import type { Http2ServerResponse } from "node:http2";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { getConnInfo } from "@hono/node-server/conninfo";
import { getRequestListener } from "@hono/node-server";
import { createNodeWebSocket } from "@hono/node-ws";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Context, Hono } from "hono";
import type { Config } from "../../config/index.js";
import { createGateway, type Gateway } from "../../gateway.js";
import { createGatewayMetrics } from "./prometheus.js";
import type { Logger } from "../../observability/logger.js";
import { createGrpcH2cServer, type GrpcH2cServer, type NodeRequestListener } from "./server.js";
import { packageWebRoot, staticAssets } from "../static-assets.js";
import { grpcWebsocketsEvents } from "../../protocol-grpc-websockets/index.js";
import { createNodeGate, type NodeGate } from "./gate.js";
import { settleBy, shutdownTailMs } from "../../settle-by.js";
import { startMetricsServer, type MetricsServer } from "./metrics-server.js";

/** Options of {@link startNodeGateway}. */
export interface NodeGatewayOptions {
  config: Config;
  nc: NatsConnection;
  log?: Logger;
  /** Folder of the built status page (default `web/dist` of this package, if present). */
  webRoot?: string;
  /** Include process metrics (CPU, memory, GC) in /metrics. Default true. */
  processMetrics?: boolean;
  /**
   * Serve RPCs (HTTP/1.1, and Connect / gRPC-Web over h2c) from Node's request objects through the Node converter and the gate
   * (`./gate.ts`: the same dispatcher and protocols, without @hono/node-server's fetch bridge and
   * the app); the same answers, faster. Default true; false sends every request to the app.
   */
  gate?: boolean;
  /** @deprecated The former name of {@link NodeGatewayOptions.gate} (from when the gate took unary calls only); `gate` wins when both are set. */
  unaryFastPath?: boolean;
}

/** A gateway serving on Node. */
export interface NodeGateway {
  readonly gateway: Gateway;
  readonly server: GrpcH2cServer;
  /** The gate for RPCs (HTTP/1.1 and h2c) (src/runtime/node/gate.ts), unless turned off. */
  readonly gate: NodeGate | undefined;
  /** @deprecated The former name of {@link NodeGateway.gate}. */
  readonly fastPath: NodeGate | undefined;
  readonly port: number;
  /** `http://host:port` */
  readonly url: string;
  /** `http://host:port/metrics` of the metrics listener, when `edge.metrics_listen` is set. */
  readonly metricsUrl: string | undefined;
  /** Drains calls and stops serving, within `drainMs` (default: the config's drain timeout). Leaves NATS open. */
  close(drainMs?: number): Promise<void>;
}

/** Serves files below `root` (no traversal), `/` as `index.html`. */
export function staticFiles(root: string): (path: string) => Promise<Response | undefined> {
  const base = resolve(root);
  return staticAssets((rel) => readFile(join(base, rel)));
}

/** Reads the config's `edge.descriptor_sets` files (binary FileDescriptorSets, paths relative to the working directory). */
export async function readDescriptorSets(files: readonly string[]): Promise<Uint8Array[]> {
  return Promise.all(
    files.map(async (f) => {
      try {
        return new Uint8Array(await readFile(f));
      } catch (e) {
        throw new Error(`config: edge.descriptor_sets: cannot read ${f}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
      }
    }),
  );
}

/** Starts the gateway on Node and listens on the config's host and port. */
export async function startNodeGateway(opts: NodeGatewayOptions): Promise<NodeGateway> {
  const { config, nc } = opts;
  let natsConnected = () => !nc.isClosed();
  const metrics = createGatewayMetrics(
    {
      natsConnected: () => natsConnected(),
      nodeCounts: () => {
        const counts = new Map<string, number>();
        for (const n of gateway.table.nodes("*")) counts.set(n.service, (counts.get(n.service) ?? 0) + 1);
        return counts;
      },
      callLabels: (info, error) => gateway.stats.labeler.labels(info, error),
    },
    opts.processMetrics ?? true,
  );
  void (async () => {
    for await (const s of nc.status()) if (s.type === "reconnect") metrics.natsReconnected();
  })().catch(() => {});

  // node-ws needs the app, the app needs the upgrader: bind late.
  let appRef: Hono | undefined;
  const lazyApp = {
    fetch: (...a: Parameters<Hono["fetch"]>) => appRef!.fetch(...a),
    request: (...a: Parameters<Hono["request"]>) => appRef!.request(...a),
  };
  const { upgradeWebSocket, injectWebSocket, wss } = createNodeWebSocket({ app: lazyApp as unknown as Hono });
  // `ws` buffers a message of up to 100 MiB before the session can refuse it. Cap each WebSocket
  // message at twice the largest the session accepts (a data frame, or the header frame): a message
  // a little over the limit is still read and refused with RESOURCE_EXHAUSTED, a status clients
  // understand; a bigger one closes the socket (1009) on its frame header, unread.
  (wss.options as { maxPayload?: number }).maxPayload = 2 * Math.max(config.maxMessageBytes + 6, config.maxMetadataBytes);
  const webRoot = opts.webRoot ?? fileURLToPath(packageWebRoot);
  const gateway = await createGateway({
    config,
    nc,
    log: opts.log,
    observers: [metrics],
    descriptorSets: await readDescriptorSets(config.descriptorSets),
    metrics: () => metrics.text(),
    remoteAddress: (c: Context) => {
      try {
        return getConnInfo(c).remote.address;
      } catch {
        return undefined;
      }
    },
    // Connect and gRPC-Web through the app: a call counts until its response is closed (over h2c, its
    // stream), not only until its call ended; its bytes may still be queued for a client that does not read.
    transportClosed: (c: Context) => {
      const res = (c.env as { outgoing?: ServerResponse | Http2ServerResponse } | undefined)?.outgoing;
      if (res === undefined) return undefined;
      const gone = "stream" in res ? res.stream.destroyed : res.closed;
      return gone ? Promise.resolve() : new Promise<void>((resolve) => res.once("close", () => resolve()));
    },
    websocket: (c, path, handler, options) => upgradeWebSocket(() => grpcWebsocketsEvents(path, handler, options))(c, async () => {}) as Promise<Response>,
    assets: config.statusPage ? staticFiles(webRoot) : undefined,
  });
  natsConnected = gateway.natsConnected;
  appRef = gateway.app;

  const appListener: NodeRequestListener = getRequestListener(gateway.app.fetch);
  const gate = (opts.gate ?? opts.unaryFastPath) === false ? undefined : createNodeGate({ config, serving: gateway.serving, log: opts.log });
  // With the gate, every RPC (native gRPC included) is the dispatcher's decision, in the gate; without
  // it, the server serves native gRPC itself (the app cannot: it needs HTTP/2 trailers).
  const server = createGrpcH2cServer(gate ? undefined : gateway.serving.context, {
    gate,
    fallback: appListener,
    firstBytesTimeoutMs: gateway.protocol.firstBytesTimeoutMs,
    idleSessionTimeoutMs: gateway.protocol.idleSessionTimeoutMs,
    headersTimeoutMs: config.httpHeaderTimeoutMs,
    requestTimeoutMs: config.httpRequestTimeoutMs,
    maxConnectionBufferedBytes: config.maxConnectionBufferedBytes,
    writeStallTimeoutMs: config.writeStallTimeoutMs,
    streamRatePerConnection: { rate: config.h2StreamRate, burst: config.h2StreamBurst },
    streamRatePerIp: { rate: config.h2StreamRatePerIp, burst: config.h2StreamBurstPerIp },
  });
  injectWebSocket(server.http1);
  const addr = await server.listen(config.port, config.host);
  let metricsServer: MetricsServer | undefined;
  try {
    if (config.metricsListen) metricsServer = await startMetricsServer(config.metricsListen, config.metricsToken, () => metrics.text(), opts.log);
  } catch (e) {
    await gateway.close(0);
    await server.destroy();
    throw e;
  }
  if (gateway.auth.enabled && !config.metricsListen && !config.metricsToken) {
    opts.log?.warn("JWT auth is on but /metrics is open on the main port: set edge.metrics_token or edge.metrics_listen (SECURITY.md)");
  }
  const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host;
  return {
    gateway,
    server,
    gate,
    fastPath: gate,
    port: addr.port,
    url: `http://${host}:${addr.port}`,
    metricsUrl: metricsServer?.url,
    async close(drainMs = config.drainTimeoutMs) {
      const deadline = Date.now() + drainMs;
      await gateway.close(drainMs - shutdownTailMs(drainMs));
      await metricsServer?.close();
      // Open connections may finish in the time left (2 s at most), then they are destroyed.
      await settleBy(server.close(), Math.min(deadline, Date.now() + 2000));
      await settleBy(server.destroy(), deadline);
    },
  };
}
