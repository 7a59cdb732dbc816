/**
 * CORS for browser RPC (Connect, gRPC-Web).
 */
export { cors, createCorsPolicy, corsAllowedHeaders, corsExposedHeaders, type CorsOptions, type CorsPolicy, type CorsHeaderTarget } from "./cors.js";
export { isOriginAllowed } from "../protocol/origin.js";
