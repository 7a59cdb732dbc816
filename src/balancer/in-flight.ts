/** Per-node count of calls in flight through this gateway (the "least request" signal). */
export class InFlightCounter {
  private readonly counts = new Map<string, number>();

  /** Calls in flight to `nid` (0 when none). */
  get(nid: string): number {
    return this.counts.get(nid) ?? 0;
  }

  /** One more call to `nid`. */
  start(nid: string): void {
    this.counts.set(nid, (this.counts.get(nid) ?? 0) + 1);
  }

  /** One call to `nid` ended; never goes below 0, and forgets the node at 0 so churn does not leak. */
  end(nid: string): void {
    const n = this.counts.get(nid);
    if (n === undefined) return;
    if (n <= 1) this.counts.delete(nid);
    else this.counts.set(nid, n - 1);
  }
}
