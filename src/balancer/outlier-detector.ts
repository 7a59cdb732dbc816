/**
 * Outlier ejection: a node whose call ends in `no_responders` or `timeout` is ejected for a back-off
 * period that starts at `baseMs` and doubles with each consecutive failure up to `maxMs`; any answer
 * from the node (`ok` or an `error` status) forgets its history. Failures reported while the node
 * is already ejected (other calls that were in flight to it) do not lengthen the back-off, so a burst
 * of timeouts from one outage counts once. When the period ends the node gets traffic again; if it
 * fails again, the next period is twice as long.
 */
import type { EjectionConfig } from "./config.js";
import type { CallOutcome } from "./types.js";

interface Health {
  /** Consecutive ejections so far. */
  failures: number;
  /** ms timestamp until which the node is ejected. */
  until: number;
}

/** Tracks node health from call outcomes. */
export class OutlierDetector {
  private readonly health = new Map<string, Health>();

  constructor(
    private readonly config: EjectionConfig,
    private readonly now: () => number,
  ) {}

  /** True when no node has any failure history (lets pickers skip per-node checks). */
  get clean(): boolean {
    return this.health.size === 0;
  }

  /** Records the outcome of a call to `nid`. */
  record(nid: string, outcome: CallOutcome): void {
    if (outcome === "ok" || outcome === "error") {
      if (this.health.size !== 0) this.health.delete(nid);
      return;
    }
    const t = this.now();
    const h = this.health.get(nid);
    if (h === undefined) {
      if (this.health.size >= 4096) this.sweep(t);
      this.health.set(nid, { failures: 1, until: t + this.config.baseMs });
      return;
    }
    if (t < h.until) return; // already ejected: the same outage
    h.failures++;
    const backoff = this.config.baseMs * 2 ** Math.min(h.failures - 1, 30);
    h.until = t + Math.min(backoff, this.config.maxMs);
  }

  /** Whether `nid` is ejected right now. */
  isEjected(nid: string): boolean {
    if (this.health.size === 0) return false;
    const h = this.health.get(nid);
    return h !== undefined && this.now() < h.until;
  }

  /** Drops history of nodes whose ejection ended more than `maxMs` ago (nodes that went away). */
  private sweep(t: number): void {
    for (const [nid, h] of this.health) if (t - h.until > this.config.maxMs) this.health.delete(nid);
  }
}
