/** Test helpers: a real nats-server per test file, connections to it over TCP and WebSocket, and waiting for its state. */
import "../../src/runtime/node/polyfills.js";
import type { NatsConnection } from "@nats-io/nats-core";
import { startNatsServer, type NatsServer, type NatsServerOptions } from "../../src/cli/nats-server.js";
import { connectNats } from "../../src/runtime/node/nats-connect.js";

export { startNatsServer, type NatsServer };
/** The one `eventually` (test/helpers/wait.ts), also here because most tests wait on NATS state. */
export { eventually } from "./wait.js";

/** Starts nats-server; remember to `await server.stop()` in `after`. */
export function natsServer(opts?: NatsServerOptions): Promise<NatsServer> {
  return startNatsServer(opts);
}

/** Connects over TCP (`nats://`). */
export function tcp(server: NatsServer, name = "test"): Promise<NatsConnection> {
  return connectNats(server.url, { name, maxReconnectAttempts: 0 });
}

/** Connects over WebSocket (`ws://`). */
export function ws(server: NatsServer, name = "test"): Promise<NatsConnection> {
  return connectNats(server.wsUrl, { name, maxReconnectAttempts: 0 });
}

/** Number of subscriptions the server holds for connections named `name`. */
export async function subsOf(server: NatsServer, name: string): Promise<number> {
  const connz = await server.monitor("connz?subs=1");
  let n = 0;
  for (const c of connz.connections ?? []) if (c.name === name) n += c.subscriptions ?? 0;
  return n;
}
