/**
 * The Connect protocol (connectrpc.com/docs/protocol) for the gateway: unary POST and GET, streaming.
 */
export { handleConnect, createConnectHandler } from "./handler.js";
export type { ConnectOptions } from "./options.js";
export { parseConnectContentType, type ConnectContentType } from "./content-type.js";
export { encodeEndStream, encodeErrorJson } from "./end-stream.js";
export { errorResponse as connectErrorResponse } from "./unary.js";
