/**
 * An end-to-end stack for tests: a real nats-server, an ION-compatible registry, demo nodes serving
 * demo.v1.EchoService over nats-grpc, and the gateway on Node (port 0), all on loopback.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { resolveConfig, type Config } from "../../src/config/index.js";
import { startDemoNode, type DemoNode, type DemoNodeOptions } from "../../src/demo/node.js";
import { startRegistry, type Registry } from "../../src/discovery/index.js";
import { connectNats } from "../../src/runtime/node/nats-connect.js";
import { silentLogger, type Logger } from "../../src/observability/logger.js";
import { startNodeGateway, type NodeGateway } from "../../src/runtime/node/index.js";
import type { NatsServerOptions } from "../../src/cli/nats-server.js";
import { eventually, natsServer, type NatsServer } from "./nats.js";

/** Options of {@link startStack}. */
export interface StackOptions {
  /** Demo nodes to start (default 2). */
  nodes?: number;
  /** Raw TOML-shaped config merged over the defaults (e.g. `{ signal: { jwt: {...} } }`). */
  config?: Record<string, unknown>;
  /** Start nats-server with JetStream (sticky placement). */
  jetstream?: boolean;
  /** More nats-server options (e.g. a small `maxPayload`). */
  nats?: NatsServerOptions;
  /** Connect everything over NATS WebSocket (default true: what the edge runtimes use), else TCP. */
  natsOverWebSocket?: boolean;
  /** Number of gateways (default 1). */
  gateways?: number;
  log?: Logger;
}

/** A running stack. */
export interface Stack {
  readonly nats: NatsServer;
  readonly registry: Registry;
  readonly nodes: { node: DemoNode; nc: NatsConnection }[];
  readonly gateways: NodeGateway[];
  /** Each gateway's NATS connection, in the order of {@link Stack.gateways}. */
  readonly gatewayConns: NatsConnection[];
  /** The first gateway. */
  readonly gw: NodeGateway;
  /** http://127.0.0.1:port of the first gateway. */
  readonly url: string;
  /** ws://127.0.0.1:port of the first gateway. */
  readonly wsUrl: string;
  /** The gateways' config. */
  readonly config: Config;
  /** Starts one more demo node. */
  addNode(opts?: DemoNodeOptions): Promise<DemoNode>;
  /** Waits until every gateway's table lists `n` nodes of `service`. */
  waitForNodes(n: number, service?: string): Promise<void>;
  stop(): Promise<void>;
}

/** Starts nats-server, a registry, demo nodes and gateway(s). */
export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const nats = await natsServer({ jetstream: opts.jetstream, ...opts.nats });
  // One NATS transport kind for the whole process (see connectNats): WebSocket unless asked otherwise.
  const natsUrl = opts.natsOverWebSocket === false ? nats.url : nats.wsUrl;
  const regNc = await connectNats(natsUrl, { name: "test-registry" });
  const registry = await startRegistry(regNc);
  const nodes: { node: DemoNode; nc: NatsConnection }[] = [];
  const addNode = async (o: DemoNodeOptions = {}) => {
    const nc = await connectNats(natsUrl, { name: "test-demo-node" });
    const node = await startDemoNode(nc, { natsUrl: nats.url, ...o });
    nodes.push({ node, nc });
    await node.registration.ready;
    return node;
  };
  for (let i = 0; i < (opts.nodes ?? 2); i++) await addNode();
  const config = resolveConfig(deepMerge({ signal: { grpc: { host: "127.0.0.1", port: 0 } } }, opts.config ?? {}), {});
  const gateways: NodeGateway[] = [];
  const gwConns: NatsConnection[] = [];
  for (let i = 0; i < (opts.gateways ?? 1); i++) {
    const nc = await connectNats(natsUrl, { name: `test-gateway-${i}` });
    gwConns.push(nc);
    gateways.push(await startNodeGateway({ config: { ...config }, nc, log: opts.log ?? silentLogger, processMetrics: false }));
  }
  const stack: Stack = {
    nats,
    registry,
    nodes,
    gateways,
    gatewayConns: gwConns,
    gw: gateways[0]!,
    url: gateways[0]!.url,
    wsUrl: gateways[0]!.url.replace(/^http/, "ws"),
    config,
    addNode,
    async waitForNodes(n, service = "demo") {
      await eventually(() => gateways.every((g) => g.gateway.table.nodes(service).length === n), 10_000, `${n} ${service} nodes`);
    },
    async stop() {
      for (const g of gateways) await g.close(100);
      for (const nc of gwConns) await nc.close();
      for (const { node, nc } of nodes) {
        await node.close().catch(() => {});
        await nc.close();
      }
      await registry.stop();
      await regNc.close();
      await nats.stop();
    },
  };
  await stack.waitForNodes(nodes.length);
  return stack;
}

/** Backends for a gateway run elsewhere (a child process): nats-server, a registry and demo nodes. */
export interface Backends {
  readonly nats: NatsServer;
  readonly registry: Registry;
  readonly nodes: DemoNode[];
  stop(): Promise<void>;
}

/** Starts nats-server, a registry and `n` demo nodes in this process, on one NATS WebSocket connection named `name`. */
export async function startBackends(n = 2, name = "test-backends"): Promise<Backends> {
  const nats = await natsServer();
  const nc = await connectNats(nats.wsUrl, { name });
  const registry = await startRegistry(nc);
  const nodes: DemoNode[] = [];
  for (let i = 0; i < n; i++) nodes.push(await startDemoNode(nc, { natsUrl: nats.wsUrl }));
  return {
    nats,
    registry,
    nodes,
    async stop() {
      for (const node of nodes) await node.close();
      await registry.stop();
      await nc.close();
      await nats.stop();
    },
  };
}

/** Merges plain objects recursively (`b` wins); arrays and other values are replaced. */
function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    const isObj = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);
    out[k] = isObj(prev) && isObj(v) ? deepMerge(prev, v) : v;
  }
  return out;
}
