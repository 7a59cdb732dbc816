/** Test helpers: a real nats-server per test file, and connections to it over TCP and WebSocket. */
import "../../src/runtime/node/polyfills.js";
import type { NatsConnection } from "@nats-io/nats-core";
import { startNatsServer, type NatsServer, type NatsServerOptions } from "../../src/cli/nats-server.js";
import { connectNats } from "../../src/runtime/node/nats-connect.js";

export { startNatsServer, type NatsServer };

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

/** Waits until `fn` returns truthy (polling), or throws after `ms`. */
export async function eventually<T>(fn: () => T | Promise<T>, ms = 5000, what = "condition"): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
