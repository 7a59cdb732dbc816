/**
 * `edge-signal/node`: the SDK for TypeScript nodes — serve any protobuf-es service as an
 * ION-compatible node (nats-grpc + nats-discovery). Runtime-neutral. See start-node.ts for an example.
 */
export { implement, startNode, type Implementation, type RunningNode, type StartNodeOptions } from "./start-node.js";
export { NrpcServer, registerService, type HandlerContext, type NrpcServerOptions, type ServerCall, type ServiceImpl } from "../nrpc/index.js";
export { randomNid, type KeepAliveHandle, type NodeInfo } from "../discovery/index.js";
