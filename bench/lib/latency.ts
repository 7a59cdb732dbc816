/** Latency samples in ms (float), summarized by exact percentiles. */
export class Latencies {
  private buf = new Float64Array(1 << 16);
  private n = 0;

  push(ms: number): void {
    if (this.n === this.buf.length) {
      const b = new Float64Array(this.buf.length * 2);
      b.set(this.buf);
      this.buf = b;
    }
    this.buf[this.n++] = ms;
  }

  get count(): number {
    return this.n;
  }

  reset(): void {
    this.n = 0;
  }

  summary(): LatencySummary {
    if (this.n === 0) return { p50: NaN, p90: NaN, p99: NaN, max: NaN, mean: NaN };
    const a = this.buf.slice(0, this.n).sort();
    const q = (p: number) => a[Math.min(a.length - 1, Math.floor(p * a.length))]!;
    let sum = 0;
    for (const v of a) sum += v;
    return { p50: q(0.5), p90: q(0.9), p99: q(0.99), max: a[a.length - 1]!, mean: sum / a.length };
  }
}

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** What every load driver returns for one measured run. */
export interface LoadResult {
  /** Completed operations (requests, messages, or streams) in the measured window. */
  count: number;
  durationMs: number;
  /** count / duration. */
  rate: number;
  lat: LatencySummary;
  errors: number;
  /** The driver's own CPU time in the window (µs, process.cpuUsage). */
  cpuUs: number;
  /** Driver-specific numbers (e.g. messages each way). */
  extra?: Record<string, number>;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
