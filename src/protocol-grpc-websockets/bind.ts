/**
 * The one binding of a grpc-websockets session to an accepted WebSocket, shared by every runtime: Deno
 * (`Deno.upgradeWebSocket`), Workers (`WebSocketPair`) and Node (`ws` through @hono/node-ws, whose
 * events hono.ts turns into this socket's shape). Whether a request is upgraded is the app's
 * decision; how the upgrade is done is each runtime's; what happens on the socket is decided here.
 * Runtime-neutral.
 */
import type { CallHandler } from "../core/call.js";
import { createGrpcWebsocketsSession, type GrpcWebsocketsOptions, type GrpcWebsocketsSession } from "./session.js";

/** A server-side WebSocket as the WHATWG API has it (Deno's and workerd's are; Node's is adapted). */
export interface ServerWebSocket {
  /** Bytes queued for sending, where the runtime tells (enables backpressure). */
  readonly bufferedAmount?: number;
  send(data: Uint8Array<ArrayBuffer>): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "message", fn: (e: { readonly data: unknown }) => void): void;
  addEventListener(type: "close", fn: (e: { readonly code: number; readonly reason: string }) => void): void;
  addEventListener(type: "error", fn: (e: unknown) => void): void;
}

/**
 * Runs one grpc-websockets call (to `path`) on `socket`: every message goes to the session, a close or
 * an error ends it (an error as close 1006). The runtime has accepted the socket with `binaryType`
 * "arraybuffer" (Workers: before `accept()`; a Blob cannot be read synchronously), and its 101 echoes
 * `Sec-WebSocket-Protocol: grpc-websockets` (browsers drop a socket without it).
 */
export function bindGrpcWebsocketsSession(socket: ServerWebSocket, path: string, handler: CallHandler, opts?: GrpcWebsocketsOptions): GrpcWebsocketsSession {
  const session = createGrpcWebsocketsSession(
    {
      send: (d) => socket.send(d as Uint8Array<ArrayBuffer>),
      close: (code, reason) => {
        try {
          socket.close(code, reason);
        } catch {
          // already closed (workerd throws)
        }
      },
      get bufferedAmount() {
        return socket.bufferedAmount;
      },
    },
    path,
    handler,
    opts,
  );
  // A Blob (a runtime that ignored binaryType) is refused by the session with a clear error.
  socket.addEventListener("message", (e) => session.onMessage(e.data as ArrayBuffer | Uint8Array | string));
  socket.addEventListener("close", (e) => session.onClose(e.code, e.reason));
  socket.addEventListener("error", () => session.onClose(1006, "websocket error"));
  return session;
}
