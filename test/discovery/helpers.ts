/** Test helpers for the discovery tests: connections to a real nats-server and polling. */
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import type { NatsServer } from "../../src/cli/nats-server.js";
import type { DiscoveryLog } from "../../src/discovery/index.js";

/** A TCP connection to `server` that does not reconnect. */
export function tcp(server: NatsServer, name = "discovery-test"): Promise<NatsConnection> {
  return connect({ servers: server.url, name, maxReconnectAttempts: 0 });
}

/** Polls `fn` every 20 ms until it returns truthy; throws after `ms`. */
export async function eventually<T>(fn: () => T, ms: number, what: string): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A log callback that records lines. */
export function recordingLog(): DiscoveryLog & { lines: { level: string; msg: string; fields?: Record<string, unknown> }[] } {
  const lines: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  const log = ((level, msg, fields) => void lines.push({ level, msg, fields })) as DiscoveryLog & { lines: typeof lines };
  log.lines = lines;
  return log;
}

/** Hex → bytes. */
export function fromHex(h: string): Uint8Array {
  return Uint8Array.from(h.match(/../g)!.map((b) => parseInt(b, 16)));
}

/** Bytes → hex. */
export function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}
