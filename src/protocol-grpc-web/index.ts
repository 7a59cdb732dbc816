/**
 * gRPC-Web (binary and text mode) for the gateway.
 */
export { handleGrpcWeb, createGrpcWebHandler, serveGrpcWeb } from "./handler.js";
export { classifyGrpcWeb, type GrpcWebRoute } from "./route.js";
export { parseGrpcWebContentType, grpcWebResponseContentType, type GrpcWebContentType } from "./content-type.js";
