/**
 * The grpc-websockets upgrade on Cloudflare Workers / workerd, by hand: hono's Workers helper does
 * not echo `Sec-WebSocket-Protocol`, and browsers drop a socket whose 101 lacks the subprotocol they
 * asked for. Runs inside the hub Durable Object (the NATS connection's I/O context).
 */
import type { CallHandler } from "../../core/call.js";
import { bindGrpcWebsocketsSession, grpcWebsocketsSubprotocol, type GrpcWebsocketsOptions } from "../../protocol-grpc-websockets/index.js";

/** The parts of workerd's WebSocket this file uses. */
interface WorkersWebSocket {
  binaryType: string;
  readonly bufferedAmount?: number;
  accept(): void;
  send(data: ArrayBuffer | ArrayBufferView | string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "message", fn: (e: { readonly data: unknown }) => void): void;
  addEventListener(type: "close", fn: (e: { readonly code: number; readonly reason: string }) => void): void;
  addEventListener(type: "error", fn: (e: unknown) => void): void;
}

type WebSocketPairCtor = new () => { 0: WorkersWebSocket; 1: WorkersWebSocket };

/**
 * Accepts a grpc-websockets upgrade: `new WebSocketPair()`, `binaryType = "arraybuffer"` before
 * `accept()` (binary frames would arrive as Blob since compat date 2026-03-17), one session per
 * socket, and a 101 that echoes `grpc-websockets`. Only callable inside workerd.
 */
export function upgradeGrpcWebsocketsOnWorkers(path: string, handler: CallHandler, opts: GrpcWebsocketsOptions): Response {
  const Pair = (globalThis as { WebSocketPair?: WebSocketPairCtor }).WebSocketPair;
  if (!Pair) throw new Error("WebSocketPair is not available: not running in workerd");
  const pair = new Pair();
  const client = pair[0];
  const server = pair[1];
  server.binaryType = "arraybuffer";
  server.accept();
  bindGrpcWebsocketsSession(server, path, handler, opts);
  // `webSocket` is a workerd extension of ResponseInit.
  return new Response(null, {
    status: 101,
    webSocket: client,
    headers: { "Sec-WebSocket-Protocol": grpcWebsocketsSubprotocol },
  } as ResponseInit);
}
