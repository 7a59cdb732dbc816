/**
 * Recent call rate per service, measured by the page itself: the difference of each service's
 * `total` between two polls over the time between them. Keeps the last `size` points.
 */
export class RateHistory {
  private readonly points = new Map<string, number[]>();
  private readonly last = new Map<string, { total: number; at: number }>();

  constructor(private readonly size = 60) {}

  /** Records the totals read at time `at` (ms). */
  add(totals: Iterable<[service: string, total: number]>, at: number): void {
    for (const [service, total] of totals) {
      const prev = this.last.get(service);
      this.last.set(service, { total, at });
      if (!prev || at <= prev.at || total < prev.total) continue; // first sight, or the gateway restarted
      const list = this.points.get(service) ?? [];
      list.push(((total - prev.total) * 1000) / (at - prev.at));
      if (list.length > this.size) list.shift();
      this.points.set(service, list);
    }
  }

  /** The recorded rates (calls/s), oldest first. */
  of(service: string): readonly number[] {
    return this.points.get(service) ?? [];
  }

  /** The latest rate, or undefined before two polls. */
  latest(service: string): number | undefined {
    const l = this.points.get(service);
    return l && l.length ? l[l.length - 1] : undefined;
  }
}
