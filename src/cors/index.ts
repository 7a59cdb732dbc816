/**
 * CORS for browser RPC (Connect, gRPC-Web).
 */
export { cors, corsAllowedHeaders, corsExposedHeaders, type CorsOptions } from "./cors.js";
export { isOriginAllowed } from "../protocol/origin.js";
