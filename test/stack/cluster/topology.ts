/**
 * The edge topology of deploy/ on loopback, for the cluster tests: three hub servers (routes,
 * clustered JetStream, domain `hub`) and two leaf servers — a regional one for TCP clients and an
 * edge one with a WebSocket listener and JetStream domain `edge` — each run from its deploy/nats
 * config file unchanged, the `$VARS` filled with free ports. On the hub: a registry and demo nodes
 * (in this process, TCP). On the leaves: one gateway each, `edge-signal serve` in a child process
 * with its deploy/*.toml (NATS over TCP to the regional leaf, over WebSocket to the edge leaf).
 */
import { isAbsolute, join } from "node:path";
import type { NatsConnection } from "@nats-io/nats-core";
import { freePort, startNatsServer, type NatsServer } from "../../../src/cli/nats-server.js";
import { startDemoNode, type DemoNode } from "../../../src/demo/node.js";
import { startRegistry, type Registry } from "../../../src/discovery/index.js";
import { connectNats } from "../../../src/runtime/node/nats-connect.js";
import { eventually } from "../../helpers/nats.js";
import { root, spawnGateway, type RuntimeProcess } from "../../helpers/runtime-processes.js";

/** deploy/ in this checkout. */
export const deployDir = join(root, "deploy");

/** The running servers. */
export interface Servers {
  /** hub-1, hub-2, hub-3. */
  readonly hubs: NatsServer[];
  /** Client URLs of the hub servers (`nats://`), in order. */
  readonly hubUrls: string[];
  /** The regional leaf (deploy/nats/leaf.conf): TCP clients. */
  readonly leaf: NatsServer;
  /** The edge leaf (deploy/nats/leaf-ws.conf): WebSocket listener, JetStream domain `edge`. */
  readonly edge: NatsServer;
  stop(): Promise<void>;
}

/** Starts the three hub servers and the two leaves and waits until the cluster and leaf links are up. */
export async function startServers(): Promise<Servers> {
  const hubPorts = await Promise.all([0, 1, 2].map(async () => ({ client: await freePort(), http: await freePort(), route: await freePort(), leaf: await freePort() })));
  const routes = Object.fromEntries(hubPorts.map((p, i) => [`ROUTE_${i + 1}`, `nats-route://127.0.0.1:${p.route}`]));
  const hubLeafUrls = Object.fromEntries(hubPorts.map((p, i) => [`HUB_${i + 1}`, `nats-leaf://127.0.0.1:${p.leaf}`]));
  const started: NatsServer[] = [];
  const stop = async () => {
    await Promise.all(started.map((s) => s.stop()));
  };
  try {
    const hubs = await Promise.all(
      hubPorts.map(async (p, i) => {
        const s = await startNatsServer({
          configFile: join(deployDir, "nats/hub.conf"),
          port: p.client,
          httpPort: p.http,
          env: { SERVER_NAME: `hub-${i + 1}`, CLIENT_LISTEN: `127.0.0.1:${p.client}`, HTTP_LISTEN: `127.0.0.1:${p.http}`, ROUTE_LISTEN: `127.0.0.1:${p.route}`, LEAF_LISTEN: `127.0.0.1:${p.leaf}`, ...routes },
        });
        started.push(s);
        return s;
      }),
    );
    const leafPorts = { client: await freePort(), http: await freePort() };
    const edgePorts = { client: await freePort(), http: await freePort(), ws: await freePort() };
    const [leaf, edge] = await Promise.all([
      startNatsServer({
        configFile: join(deployDir, "nats/leaf.conf"),
        port: leafPorts.client,
        httpPort: leafPorts.http,
        env: { SERVER_NAME: "leaf-region", CLIENT_LISTEN: `127.0.0.1:${leafPorts.client}`, HTTP_LISTEN: `127.0.0.1:${leafPorts.http}`, ...hubLeafUrls },
      }),
      startNatsServer({
        configFile: join(deployDir, "nats/leaf-ws.conf"),
        port: edgePorts.client,
        httpPort: edgePorts.http,
        wsPort: edgePorts.ws,
        env: { SERVER_NAME: "leaf-edge", CLIENT_LISTEN: `127.0.0.1:${edgePorts.client}`, HTTP_LISTEN: `127.0.0.1:${edgePorts.http}`, WS_LISTEN: `127.0.0.1:${edgePorts.ws}`, ...hubLeafUrls },
      }),
    ]);
    started.push(leaf, edge);
    const servers: Servers = { hubs, hubUrls: hubs.map((h) => h.url), leaf, edge, stop };
    await clusterFormed(servers);
    return servers;
  } catch (e) {
    await stop();
    throw e;
  }
}

/**
 * Waits until every hub server routes to the two others and knows a JetStream meta leader, and
 * both leaves are connected to some hub (the state a deployment starts serving in).
 */
export async function clusterFormed(s: Servers, ms = 30_000): Promise<void> {
  const up = s.hubs.filter((h) => h.process.exitCode === null && h.process.signalCode === null);
  await eventually(
    async () => {
      for (const h of up) {
        const routez = await h.monitor("routez");
        if ((routez.num_routes ?? 0) < up.length - 1) return false;
        const jsz = await h.monitor("jsz");
        if (!jsz.meta_cluster?.leader) return false;
      }
      for (const l of [s.leaf, s.edge]) if (((await l.monitor("leafz")).leafnodes ?? 0) < 1) return false;
      return true;
    },
    ms,
    "hub routes, a JetStream meta leader and both leaf connections",
  );
}

/** The registry and demo nodes on the hub. */
export interface HubServices {
  readonly registry: Registry;
  readonly nodes: { node: DemoNode; nc: NatsConnection }[];
  stop(): Promise<void>;
}

/**
 * A registry and `n` demo nodes on the hub cluster over TCP; node `i` prefers hub server `i % 3`
 * (server list in order, not shuffled) and reconnects to the others when it dies.
 */
export async function startHubServices(s: Servers, n = 3): Promise<HubServices> {
  const urlsFrom = (i: number) => [...s.hubUrls.slice(i % 3), ...s.hubUrls.slice(0, i % 3)];
  const regNc = await connectNats(urlsFrom(0), { name: "cluster-registry", noRandomize: true });
  const registry = await startRegistry(regNc);
  const nodes: { node: DemoNode; nc: NatsConnection }[] = [];
  for (let i = 0; i < n; i++) {
    const nc = await connectNats(urlsFrom(i), { name: `cluster-demo-${i}`, noRandomize: true });
    const node = await startDemoNode(nc, { nid: `demo-hub${(i % 3) + 1}-${i}`, natsUrl: s.hubUrls[i % 3] });
    await node.registration.ready;
    nodes.push({ node, nc });
  }
  return {
    registry,
    nodes,
    async stop() {
      for (const { node, nc } of nodes) {
        await node.close().catch(() => {});
        await nc.close();
      }
      await registry.stop();
      await regNc.close();
    },
  };
}

/** A gateway (`edge-signal serve -c deploy/<config>`) in a child process. */
export interface GatewayProcess extends RuntimeProcess {
  /** `/metrics` value of `edge_signal_discovery_nodes{service}` (undefined when not exported). */
  nodes(service?: string): Promise<number | undefined>;
}

/** Starts `edge-signal serve -c deploy/<config>` (or an absolute path) on a free loopback port, NATS at `natsUrl`. */
export async function startGateway(config: string, natsUrl: string, env: Record<string, string> = {}): Promise<GatewayProcess> {
  const port = await freePort();
  const p = await spawnGateway(
    process.execPath,
    ["--import", "tsx", "src/cli/run.ts", "serve", "-c", isAbsolute(config) ? config : join(deployDir, config)],
    { EDGE_SIGNAL_NATS_URL: natsUrl, HOST: "127.0.0.1", PORT: String(port), EDGE_SIGNAL_LOG_LEVEL: "warn", ...env },
    port,
    60_000,
  );
  return {
    ...p,
    async nodes(service = "demo") {
      const text = await (await fetch(`${p.url}/metrics`)).text();
      const m = new RegExp(`^edge_signal_discovery_nodes\\{service="${service}"\\} (\\d+)$`, "m").exec(text);
      return m ? Number(m[1]) : undefined;
    },
  };
}

/**
 * One Connect unary Echo with room metadata and a 5 s deadline (what clients should send: a request or
 * reply lost inside a dying server is seen by no one, see failures.test.ts): the serving node or the
 * error code ("hung" when no answer came 15 s later).
 */
export async function joinRoom(url: string, room: string, ms = 15_000): Promise<{ node?: string; code?: string }> {
  try {
    const r = await fetch(`${url}/demo.v1.EchoService/Echo`, {
      method: "POST",
      headers: { "content-type": "application/json", "connect-timeout-ms": "5000", sid: room },
      body: JSON.stringify({ message: `join ${room}` }),
      signal: AbortSignal.timeout(ms),
    });
    const body = await r.json();
    return r.status === 200 ? { node: body.node } : { code: body.code };
  } catch (e) {
    return { code: (e as Error).name === "TimeoutError" ? "hung" : `fetch: ${(e as Error).message}` };
  }
}
