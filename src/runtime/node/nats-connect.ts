/** Node-only: TCP (`nats://`) or WebSocket (`ws://`) by the URL's scheme. */
import "./polyfills.js";
import type { ConnectionOptions, NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { connectWebSocket, reconnectDefaults } from "../../nats/connect.js";

/**
 * Connects to a NATS server by URL: `nats://host:port` over TCP, `ws(s)://` over WebSocket.
 *
 * Use one kind per process: nats.js keeps its transport factory in a process-wide variable that each
 * `connect`/`wsconnect` overwrites, and reconnects use whatever was set last — a TCP connection made
 * before a WebSocket one then never reconnects (seen with nats-core 3.4).
 */
export function connectNats(url: string | string[], opts: Partial<ConnectionOptions> = {}): Promise<NatsConnection> {
  const urls = Array.isArray(url) ? url : url.split(",").map((u) => u.trim()).filter(Boolean);
  if (urls.length > 0 && urls.every((u) => /^wss?:\/\//i.test(u))) return connectWebSocket(urls, opts);
  return connect({ ...reconnectDefaults, name: "edge-signal", ...opts, servers: urls });
}
