/**
 * The package's main entry (`import … from "edge-signal"`): the runtime-neutral gateway and what it
 * is built from — config, auth, nats-grpc (nrpc), discovery. Runs on Node, Deno and Workers; the
 * runtime entries that open a port are `edge-signal/runtime/node`, `/runtime/deno`, `/runtime/cloudflare`.
 */
export { createGateway, schemaRegistry, type Gateway, type GatewayOptions, type GatewayProtocolOptions } from "./gateway.js";
export * from "./config/index.js";
export { createAuthenticator, mintToken, parseAuthConfig, type AuthConfig, type Authenticator, type IonClaims } from "./auth/index.js";
export { NrpcClient, NrpcServer, createServiceClient, registerService, type ServiceClient, type ServiceImpl } from "./nrpc/index.js";
export { DiscoveryClient, NodeTable, startRegistry, type NodeInfo, type Registry } from "./discovery/index.js";
export { connectWebSocket } from "./nats/connect.js";
export { createLogger, type Logger } from "./observability/logger.js";
