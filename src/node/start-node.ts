/**
 * The SDK for TypeScript nodes: serve protobuf-es services over nats-grpc and register the node in
 * nats-discovery, as an ION node (Go) does — so the gateway (and ION's own signal) route calls to it.
 * Runtime-neutral: any `NatsConnection` (TCP on Node via `edge-signal/nats/node`, WebSocket anywhere).
 *
 * ```ts
 * import { connectNats } from "edge-signal/nats/node";
 * import { implement, startNode } from "edge-signal/node";
 * import { GreeterService } from "./gen/greet/v1/greet_pb.js"; // service GreeterService { rpc SayHello(…) }
 *
 * const nc = await connectNats("nats://127.0.0.1:4222");
 * const node = await startNode(nc, {
 *   service: "greet",                      // the discovery service the gateway routes to
 *   implementations: [implement(GreeterService, { sayHello: (req) => ({ greeting: `hello ${req.name}` }) })],
 * });
 * // … later: await node.close();           // stops serving, deregisters (discovery delete)
 * ```
 */
import type { DescService } from "@bufbuild/protobuf";
import type { NatsConnection } from "@nats-io/nats-core";
import { DiscoveryClient, orderedNrpcKey, orderedNrpcValue, randomNid, type KeepAliveHandle } from "../discovery/index.js";
import { NrpcServer, registerService, type ServiceImpl } from "../nrpc/index.js";

/** A service definition with its implementation, ready for {@link startNode} (build it with {@link implement}). */
export interface Implementation {
  readonly typeName: string;
  register(server: NrpcServer): void;
}

/** Pairs a protobuf-es service (from protoc-gen-es) with its typed implementation: one function per method. */
export function implement<S extends DescService>(service: S, impl: ServiceImpl<S>): Implementation {
  return { typeName: service.typeName, register: (server) => registerService(server, service, impl) };
}

/** Options of {@link startNode}. */
export interface StartNodeOptions {
  /** Discovery service name (`rtc`, `room`, `demo`, …): the gateway routes `/pkg.Svc/M` to service `pkg` by default. */
  service: string;
  /** The services this node serves. */
  implementations: readonly Implementation[];
  /** Node id (default `<service>-` + 6 random characters, as ION). A single NATS token. */
  nid?: string;
  /** Data-center id (ION `[global] dc`; default `dc1`). */
  dc?: string;
  /** The NATS URL advertised in discovery (informational, as ION's `rpc.addr`). */
  natsUrl?: string;
  /**
   * ExtraInfo to advertise, e.g. `{ load: 0.3 }` for load-aware balancing. `nrpc: "ordered"` is always
   * added (the gateway's full-speed sender; see `orderedNrpcKey` in src/discovery/ordered-nrpc.ts).
   */
  extraInfo?: Record<string, unknown>;
}

/** A running node. */
export interface RunningNode {
  readonly nid: string;
  readonly server: NrpcServer;
  readonly registration: KeepAliveHandle;
  /** Settles after a registry answered the first registration: true if one accepted it. */
  readonly registered: Promise<boolean>;
  /** Stops serving (open calls are cancelled), then deregisters (discovery delete, awaited). */
  close(): Promise<void>;
  /** Stops serving and keepalives WITHOUT a delete, as if the process died (for tests and drills). */
  kill(): void;
}

/** Serves `implementations` on `nc` under a node id, and keeps the node registered in discovery. */
export async function startNode(nc: NatsConnection, opts: StartNodeOptions): Promise<RunningNode> {
  const nid = opts.nid ?? randomNid(opts.service);
  const server = new NrpcServer(nc, { nid });
  for (const impl of opts.implementations) impl.register(server);
  // The subscriptions are on the server before the node is announced, so no routed call is lost.
  await nc.flush();
  const registration = new DiscoveryClient(nc).keepAlive({
    nid,
    service: opts.service,
    dc: opts.dc ?? "dc1",
    rpc: { protocol: "nats-grpc", addr: opts.natsUrl ?? "", params: {} },
    // Our nats-grpc server handles each stream in order and reads an empty Data as the empty message:
    // the gateway may send to us at full speed (README "Go ION nodes").
    extraInfo: { [orderedNrpcKey]: orderedNrpcValue, ...opts.extraInfo },
    source: "discovery",
    lastSeen: Date.now(),
  });
  return {
    nid,
    server,
    registration,
    registered: registration.ready,
    async close() {
      server.close();
      await registration.close();
    },
    kill() {
      registration.abandon();
      server.close(true);
    },
  };
}
