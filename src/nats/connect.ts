/**
 * Opening a NATS connection on any runtime: WebSocket (`ws://`, `wss://`) through `wsconnect`, which
 * works on Node (with a global WebSocket), Deno and Workers. TCP is Node-only: see src/runtime/node/nats-connect.ts.
 */
import { wsconnect, type ConnectionOptions, type NatsConnection } from "@nats-io/nats-core";

/** Reconnect forever with back-off and jitter (ION used 1 s × 600; we never give up). */
export const reconnectDefaults: Partial<ConnectionOptions> = {
  maxReconnectAttempts: -1,
  reconnectTimeWait: 500,
  reconnectJitter: 250,
  waitOnFirstConnect: false,
  pingInterval: 20_000,
  maxPingOut: 3,
};

/** Connects over WebSocket to `servers` (ws:// or wss:// URLs). */
export function connectWebSocket(servers: string | string[], opts: Partial<ConnectionOptions> = {}): Promise<NatsConnection> {
  return wsconnect({ ...reconnectDefaults, name: "edge-signal", ...opts, servers });
}
