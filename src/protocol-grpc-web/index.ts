/**
 * gRPC-Web (binary and text mode) for the gateway.
 */
export { handleGrpcWeb, createGrpcWebHandler, serveGrpcWeb, type GrpcWebRequest, type GrpcWebSink } from "./handler.js";
export { parseGrpcWebContentType, grpcWebResponseContentType, type GrpcWebContentType } from "./content-type.js";
