/**
 * A demo backend node: serves `demo.v1.EchoService` over nats-grpc and registers itself in
 * nats-discovery (service `demo`, nid `demo-<6 chars>`), as an ION node would.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { randomNid, type KeepAliveHandle } from "../discovery/index.js";
import { EchoService } from "../gen/demo/v1/echo_pb.js";
import type { NrpcServer } from "../nrpc/index.js";
import { implement, startNode } from "../node/start-node.js";
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

/** Starts a demo node on `nc` (with the node SDK, src/node/start-node.ts). */
export async function startDemoNode(nc: NatsConnection, opts: DemoNodeOptions = {}): Promise<DemoNode> {
  const nid = opts.nid ?? randomNid("demo");
  return startNode(nc, {
    nid,
    service: opts.service ?? "demo",
    dc: opts.dc ?? "dc1",
    natsUrl: opts.natsUrl ?? "",
    extraInfo: opts.load !== undefined ? { load: opts.load } : {},
    implementations: [implement(EchoService, echoServiceImpl(nid))],
  });
}
