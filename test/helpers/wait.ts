/**
 * Waiting in tests, always with a deadline (runs in the Node test process): `eventually` polls a
 * condition, `within` bounds a promise. A wait that runs out fails the test with what it waited for,
 * instead of hanging until the runner's 5-minute guard.
 */

/**
 * Polls `fn` (every 20 ms) until it returns something truthy, and returns that; throws after `ms`.
 * `ms` is a generous bound, not a timing assert: under load a wait may take many times its usual time.
 */
export async function eventually<T>(fn: () => T | Promise<T>, ms = 5000, what = "condition"): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** `p`, or a rejection after `ms` (a hang guard whose timer never outlives it). */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Waits on a client's events instead of polling: a client calls `wake()` on each event (a frame, a
 * close), and `until` re-checks its condition then, with a deadline.
 */
export class Wakeup {
  private waiters: (() => void)[] = [];

  /** Every pending wait checks its condition again. */
  wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /**
   * The first value `check` returns other than undefined, checked now and at every `wake()`;
   * undefined once `ms` passed. `check` may throw to end the wait (the connection closed first).
   */
  async settled<T>(check: () => T | undefined, ms: number): Promise<T | undefined> {
    const end = Date.now() + ms;
    for (;;) {
      const v = check();
      if (v !== undefined) return v;
      const left = end - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Like {@link settled}, but fails with `${what}: not within ${ms} ms` at the deadline. */
  async until<T>(check: () => T | undefined, ms: number, what: string): Promise<T> {
    const v = await this.settled(check, ms);
    if (v === undefined) throw new Error(`${what}: not within ${ms} ms`);
    return v;
  }
}
