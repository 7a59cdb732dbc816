/**
 * Native gRPC on the seam (src/protocol/universal.ts): runtime-neutral. It needs a transport that sends
 * HTTP trailers; the Node server (src/runtime/node/server.ts) serves it over HTTP/2.
 */
export { serveGrpc, isGrpcContentType, type GrpcServeContext } from "./handler.js";
