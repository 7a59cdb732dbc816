/**
 * Native gRPC over HTTP/2 for Node (imports node:http2; not for Deno or Workers).
 */
export { handleGrpcStream, isGrpcContentType } from "./handler.js";
export {
  createGrpcH2cServer,
  createGrpcRequestListener,
  isGrpcRequest,
  type GrpcH2cServer,
  type GrpcServerOptions,
  type NodeRequestListener,
} from "./server.js";
