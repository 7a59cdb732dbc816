/**
 * Node 20 has no global WebSocket; `wsconnect` of @nats-io/nats-core needs one (it hangs silently
 * without). Importing this module installs the `ws` implementation once. Node only.
 */
import { WebSocket as WsWebSocket } from "ws";

if (typeof (globalThis as { WebSocket?: unknown }).WebSocket === "undefined") {
  (globalThis as { WebSocket?: unknown }).WebSocket = WsWebSocket;
}
