/**
 * A `setInterval` that says how late each tick is: the time the process did not run its timers (a
 * SIGSTOP, a long GC or CPU starvation, a blocked event loop). Expiry clocks (the node table's sweep,
 * the registry's) subtract it: messages that arrived while the process was stalled are still queued
 * when the first late tick runs (Node runs due timers before it reads sockets), so expiring by the
 * wall clock at that tick would drop every node whose keepalive is waiting in the socket.
 * Runtime-neutral.
 */

/** Calls `tick(lateMs)` every `periodMs`; `lateMs` is how much later than due the tick ran (≥ 0). Returns a stop function. */
export function driftInterval(periodMs: number, tick: (lateMs: number) => void, now: () => number = Date.now): () => void {
  let last = now();
  const timer = setInterval(() => {
    const t = now();
    const late = Math.max(0, t - last - periodMs);
    last = t;
    tick(late);
  }, periodMs);
  return () => clearInterval(timer);
}
