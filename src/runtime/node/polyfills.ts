/**
 * Node 20 has no global WebSocket; `wsconnect` of @nats-io/nats-core needs one (it hangs silently
 * without). Importing this module installs the `ws` implementation once. Node 20 has no global
 * ErrorEvent either; @hono/node-ws makes one for every WebSocket 'error' (a protocol error, a message
 * over the size limit) and without it threw a ReferenceError instead of telling the session. Node only.
 */
import { WebSocket as WsWebSocket } from "ws";

if (typeof (globalThis as { WebSocket?: unknown }).WebSocket === "undefined") {
  (globalThis as { WebSocket?: unknown }).WebSocket = WsWebSocket;
}

if (typeof (globalThis as { ErrorEvent?: unknown }).ErrorEvent === "undefined") {
  /** The part of the DOM ErrorEvent that event handlers read. */
  class ErrorEventShim extends Event {
    readonly error: unknown;
    readonly message: string;
    constructor(type: string, init: EventInit & { error?: unknown; message?: string } = {}) {
      super(type, init);
      this.error = init.error;
      this.message = init.message ?? (init.error instanceof Error ? init.error.message : "");
    }
  }
  (globalThis as { ErrorEvent?: unknown }).ErrorEvent = ErrorEventShim;
}
