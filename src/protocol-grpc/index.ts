/**
 * Native gRPC over HTTP/2 for Node (imports node:http2; not for Deno or Workers). The one-port Node
 * server that serves it is src/runtime/node/server.ts.
 */
export { handleGrpcStream, isGrpcContentType } from "./handler.js";
