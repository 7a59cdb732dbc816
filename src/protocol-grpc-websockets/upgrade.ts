/**
 * Recognizing a grpc-websockets upgrade, and checking its origin (WebSockets are not CORS-checked).
 */
import type { RequestHeaders } from "../protocol/header-list.js";
import { isOriginAllowed } from "../protocol/origin.js";

/** The WebSocket subprotocol of the improbable-eng transport; echo it in the 101 response. */
export const grpcWebsocketsSubprotocol = "grpc-websockets";

/**
 * True for `Upgrade: websocket` with a `grpc-websockets` token in `Sec-WebSocket-Protocol`
 * (both case-insensitive), as improbable's Go server checks.
 */
export function isGrpcWebsocketsUpgrade(req: { readonly headers: Pick<RequestHeaders, "get"> }): boolean {
  if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") return false;
  const protocols = req.headers.get("sec-websocket-protocol");
  if (protocols === null) return false;
  return protocols.split(",").some((p) => p.trim().toLowerCase() === grpcWebsocketsSubprotocol);
}

/**
 * True when a WebSocket upgrade's Origin may connect. No Origin (a non-browser client) is allowed:
 * origin checks protect browsers from cross-site WebSockets, and browsers always send one. An Origin
 * that is present but malformed (empty, `null`, anything after the port) is refused by an allow-list.
 */
export function checkWebSocketOrigin(origin: string | null | undefined, allowList: readonly string[] | "*"): boolean {
  if (origin === null || origin === undefined) return true;
  return isOriginAllowed(origin, allowList);
}
