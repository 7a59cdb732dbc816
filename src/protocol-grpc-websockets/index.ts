/**
 * improbable-eng `grpc-websockets` (what ion-sdk-js speaks) for the gateway: full-duplex calls over
 * one WebSocket per call.
 */
export {
  createGrpcWebsocketsSession,
  type GrpcWebsocketsSession,
  type GrpcWebsocketsSocket,
  type GrpcWebsocketsOptions,
} from "./session.js";
export { isGrpcWebsocketsUpgrade, checkWebSocketOrigin, grpcWebsocketsSubprotocol } from "./upgrade.js";
export { bindGrpcWebsocketsSession, type ServerWebSocket } from "./bind.js";
export { grpcWebsocketsEvents } from "./hono.js";
