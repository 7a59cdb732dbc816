/**
 * The Connect protocol (connectrpc.com/docs/protocol) for the gateway: unary POST and GET, streaming.
 */
export { handleConnect, createConnectHandler, serveConnect } from "./handler.js";
export type { ConnectOptions } from "./options.js";
export { parseConnectContentType, type ConnectContentType } from "./content-type.js";
export { classifyConnect, type ConnectRoute } from "./route.js";
export { encodeEndStream, encodeErrorJson } from "./end-stream.js";
export { errorResponse as connectErrorResponse, serveConnectUnary } from "./unary.js";
export { serveConnectStream } from "./streaming.js";
