/**
 * A demo backend node: serves `demo.v1.EchoService` over nats-grpc and registers itself in
 * nats-discovery (service `demo`, nid `demo-<6 chars>`), as an ION node would.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { DiscoveryClient, randomNid, type KeepAliveHandle } from "../discovery/index.js";
import { EchoService } from "../gen/demo/v1/echo_pb.js";
import { NrpcServer, registerService } from "../nrpc/index.js";
import { echoServiceImpl } from "./echo-service.js";

/** Options of {@link startDemoNode}. */
export interface DemoNodeOptions {
  nid?: string;
  /** Discovery service name (default `demo`). */
  service?: string;
  dc?: string;
  /** The NATS URL advertised in discovery. */
  natsUrl?: string;
  /** Reported load (ExtraInfo `load`), for load-aware balancing demos. */
  load?: number;
}

/** A running demo node. */
export interface DemoNode {
  readonly nid: string;
  readonly server: NrpcServer;
  readonly registration: KeepAliveHandle;
  /** Deregisters (discovery delete) and stops serving. */
  close(): Promise<void>;
  /** Stops serving and keepalives WITHOUT a delete, as if the process died. */
  kill(): void;
}

/** Starts a demo node on `nc`. */
export async function startDemoNode(nc: NatsConnection, opts: DemoNodeOptions = {}): Promise<DemoNode> {
  const nid = opts.nid ?? randomNid("demo");
  const server = new NrpcServer(nc, { nid });
  registerService(server, EchoService, echoServiceImpl(nid));
  await nc.flush();
  const registration = new DiscoveryClient(nc).keepAlive({
    nid,
    service: opts.service ?? "demo",
    dc: opts.dc ?? "dc1",
    rpc: { protocol: "nats-grpc", addr: opts.natsUrl ?? "", params: {} },
    extraInfo: opts.load !== undefined ? { load: opts.load } : {},
    source: "discovery",
    lastSeen: Date.now(),
  });
  return {
    nid,
    server,
    registration,
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
