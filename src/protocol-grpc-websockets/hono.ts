/**
 * Glue for hono's `upgradeWebSocket` (node-ws, Deno, Bun, Workers): the WSEvents of one session.
 */
import type { WSContext, WSEvents, WSMessageReceive } from "hono/ws";
import type { CallHandler } from "../core/call.js";
import { createGrpcWebsocketsSession, type GrpcWebsocketsOptions, type GrpcWebsocketsSession } from "./session.js";

/**
 * The events for `upgradeWebSocket(c => grpcWebsocketsEvents(path, handler, opts))`. Backpressure uses
 * `ws.raw.bufferedAmount` when the runtime's socket has it (`ws`, Deno). Blob messages are refused:
 * set `binaryType = "arraybuffer"` (Workers: before `accept()`). The 101 response must carry
 * `Sec-WebSocket-Protocol: grpc-websockets` (`ws` and hono/deno echo it; hono's Workers helper does not).
 */
export function grpcWebsocketsEvents(path: string, handler: CallHandler, opts?: GrpcWebsocketsOptions): WSEvents {
  let session: GrpcWebsocketsSession | undefined;
  return {
    onOpen(_evt, ws: WSContext) {
      const raw = ws.raw as { bufferedAmount?: number } | undefined;
      session = createGrpcWebsocketsSession(
        {
          send: (d) => ws.send(d as Uint8Array<ArrayBuffer>),
          close: (code, reason) => ws.close(code, reason),
          get bufferedAmount() {
            return raw?.bufferedAmount;
          },
        },
        path,
        handler,
        opts,
      );
    },
    onMessage(evt: MessageEvent<WSMessageReceive>) {
      // A Blob (binaryType "blob") is refused by the session with a clear error.
      session?.onMessage(evt.data as ArrayBuffer | Uint8Array | string);
    },
    onClose(evt: CloseEvent) {
      session?.onClose(evt.code, evt.reason);
    },
    onError() {
      session?.onClose(1006, "websocket error");
    },
  };
}
