/**
 * A bounded LRU of verified tokens. An entry lives until its own deadline (the token's `exp` plus
 * skew, or the max TTL, whichever is first); only successes are ever stored.
 */

/** LRU keyed by token string. */
export class TokenCache<V> {
  private readonly map = new Map<string, { value: V; expiresAt: number }>();

  /** @param max entries kept; 0 disables the cache */
  constructor(private readonly max: number) {}

  /** The live entry for `token`, marked most recently used; expired entries are dropped. */
  get(token: string, nowMs: number): V | undefined {
    const e = this.map.get(token);
    if (!e) return undefined;
    this.map.delete(token);
    if (e.expiresAt <= nowMs) return undefined;
    this.map.set(token, e);
    return e.value;
  }

  /** Stores `value` until `expiresAt` (ms), evicting the least recently used entry when full. */
  set(token: string, value: V, expiresAt: number): void {
    if (this.max === 0) return;
    this.map.delete(token);
    if (this.map.size >= this.max) this.map.delete(this.map.keys().next().value as string);
    this.map.set(token, { value, expiresAt });
  }

  /** Number of entries, live or not yet noticed as expired. */
  get size(): number {
    return this.map.size;
  }

  /** Drops everything (e.g. after a key is revoked). */
  clear(): void {
    this.map.clear();
  }
}
