import type { NatsConnection } from "@nats-io/nats-core";

/**
 * Bounded waits for shutdown: each step of a stop (a discovery delete, a NATS drain, closing sockets)
 * gets at most the time left before one deadline, so a stop finishes in time whatever the state of
 * NATS. Runtime-neutral.
 */

/**
 * Waits for `p` until `deadline` (a `Date.now()` time) at the latest. Resolves true if `p` settled
 * (fulfilled or rejected) in time, false if the deadline came first. Never rejects; leaves no timer.
 */
export async function settleBy(p: Promise<unknown> | undefined, deadline: number): Promise<boolean> {
  if (p === undefined) return true;
  const ms = deadline - Date.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const settled = p.then(
    () => true,
    () => true,
  );
  if (ms <= 0) return Promise.race([settled, Promise.resolve(false)]);
  try {
    return await Promise.race([settled, new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Drains `nc` until `deadline` (a drain waits for the server to answer), then closes it if the drain
 * did not finish: the last step of a stop, bounded like the others.
 */
export async function closeNatsBy(nc: NatsConnection, deadline: number): Promise<void> {
  if (nc.isClosed()) return;
  if (await settleBy(nc.drain(), deadline)) return;
  await settleBy(nc.close(), deadline + 100);
}

/**
 * The part of a shutdown of `totalMs` kept for what follows the step now starting (closing sockets,
 * leaving discovery, draining NATS): a fifth of it, at most 500 ms. These steps take milliseconds
 * while NATS answers, and are cut at the deadline when it does not.
 */
export function shutdownTailMs(totalMs: number): number {
  return Math.min(500, Math.floor(totalMs / 5));
}
