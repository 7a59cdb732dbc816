/**
 * The per-process side of the latency breakdown (bench processes only): hop timestamps of calls that
 * run one at a time (1 in flight), turned into the time between consecutive hops. A call's record
 * opens at its first hop and closes at its last; a hop seen twice in one call keeps its first time,
 * and hops outside an open record (a late half-close) are ignored. Times from `performance.now()`
 * of this process only: segments never span two processes' clocks. Only calls that passed every hop
 * are sampled (the others are counted in `incomplete`).
 */
import { performance } from "node:perf_hooks";

/**
 * One segment: p50, p90 and p99 of the time between two consecutive hops, in µs; or, with `whole`,
 * of the time from the first hop to the last (each call's own sum, so its p99 says how slow the
 * slowest calls were inside this process).
 */
export interface SegmentSummary {
  from: string;
  to: string;
  count: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  whole?: boolean;
}

/** Records the hops of `order` (first = opening hop, last = closing hop). */
export class HopLog {
  private open = false;
  private readonly at = new Map<string, number>();
  private readonly samples = new Map<string, number[]>();
  private readonly spans: number[] = [];

  constructor(private readonly order: readonly string[]) {}

  /** Marks `hop` now. */
  readonly mark = (hop: string): void => {
    const t = performance.now();
    if (hop === this.order[0]) {
      this.open = true;
      this.at.clear();
    } else if (!this.open) return;
    if (!this.at.has(hop)) this.at.set(hop, t);
    if (hop === this.order[this.order.length - 1]) this.close();
  };

  /** Calls closed without every hop (not sampled). */
  incomplete = 0;

  private close(): void {
    this.open = false;
    if (this.order.some((h) => !this.at.has(h))) {
      this.incomplete++;
      this.at.clear();
      return;
    }
    for (let i = 1; i < this.order.length; i++) {
      const key = `${this.order[i - 1]}→${this.order[i]}`;
      let list = this.samples.get(key);
      if (!list) this.samples.set(key, (list = []));
      list.push((this.at.get(this.order[i]!)! - this.at.get(this.order[i - 1]!)!) * 1000);
    }
    this.spans.push((this.at.get(this.order[this.order.length - 1]!)! - this.at.get(this.order[0]!)!) * 1000);
    this.at.clear();
  }

  /** Percentiles per segment since the last reset, in hop order, then the whole span (`whole: true`). */
  summary(): SegmentSummary[] {
    const out: SegmentSummary[] = [];
    for (const [key, list] of this.samples) {
      const [from, to] = key.split("→") as [string, string];
      out.push({ from, to, ...percentiles(list) });
    }
    if (this.spans.length) out.push({ from: this.order[0]!, to: this.order[this.order.length - 1]!, ...percentiles(this.spans), whole: true });
    return out;
  }

  reset(): void {
    this.incomplete = 0;
    this.samples.clear();
    this.spans.length = 0;
    this.at.clear();
    this.open = false;
  }
}

function percentiles(list: number[]): { count: number; p50Us: number; p90Us: number; p99Us: number } {
  const s = [...list].sort((x, y) => x - y);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? NaN;
  return { count: s.length, p50Us: q(0.5), p90Us: q(0.9), p99Us: q(0.99) };
}

/** The gateway's hops of a unary call, in order (the HTTP ones are marked by the bench process). */
export const gatewayHops = ["http-parsed", "body-read", "director-done", "published", "reply-received", "response-written"] as const;

/** A nats-grpc node's hops of a call, in order. */
export const nodeHops = ["node-received", "node-handler-done", "node-replied"] as const;
