/**
 * hono's `upgradeWebSocket` events (the Node entry, through @hono/node-ws) as the standard socket
 * that {@link bindGrpcWebsocketsSession} binds: hono hands the socket over as callbacks (`WSEvents`),
 * after buffering what arrived before `onOpen`, so the binding listens to those. Runtime-neutral.
 */
import type { WSContext, WSEvents, WSMessageReceive } from "hono/ws";
import type { CallHandler } from "../core/call.js";
import { bindGrpcWebsocketsSession, type ServerWebSocket } from "./bind.js";
import type { GrpcWebsocketsOptions } from "./session.js";

type Listeners = {
  message?: (e: { readonly data: unknown }) => void;
  close?: (e: { readonly code: number; readonly reason: string }) => void;
  error?: (e: unknown) => void;
};

/**
 * The events for `upgradeWebSocket(c => grpcWebsocketsEvents(path, handler, opts))`. Backpressure uses
 * `ws.raw.bufferedAmount` when the runtime's socket has it (`ws`, Deno). The 101 response must carry
 * `Sec-WebSocket-Protocol: grpc-websockets` (`ws` and hono/deno echo it; hono's Workers helper does not).
 */
export function grpcWebsocketsEvents(path: string, handler: CallHandler, opts?: GrpcWebsocketsOptions): WSEvents {
  const on: Listeners = {};
  return {
    onOpen(_evt, ws: WSContext) {
      const raw = ws.raw as { bufferedAmount?: number } | undefined;
      const socket: ServerWebSocket = {
        send: (d) => ws.send(d),
        close: (code, reason) => ws.close(code, reason),
        get bufferedAmount() {
          return raw?.bufferedAmount;
        },
        addEventListener(type: keyof Listeners, fn: (e: never) => void) {
          on[type] = fn as never;
        },
      };
      bindGrpcWebsocketsSession(socket, path, handler, opts);
    },
    onMessage(evt: MessageEvent<WSMessageReceive>) {
      on.message?.(evt);
    },
    onClose(evt: CloseEvent) {
      on.close?.(evt);
    },
    onError(evt: Event) {
      on.error?.(evt);
    },
  };
}
