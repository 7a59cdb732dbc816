/** Number and time formatting for the status page. */

/** `0.4 s`, `12 s`, `3 min`, `2 h`. */
export function ago(ms: number): string {
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  return `${Math.round(ms / 3_600_000)} h`;
}

/** A rate: `0`, `0.02`, `3.5`, `120`. */
export function rate(n: number): string {
  if (n === 0) return "0";
  if (n < 0.1) return n.toFixed(2);
  if (n < 10) return n.toFixed(1);
  return Math.round(n).toLocaleString("en-US");
}

/** Milliseconds: `0.4 ms`, `12 ms`, `1.2 s`; `–` when there is no sample. */
export function millis(ms: number, hasSamples = true): string {
  if (!hasSamples) return "–";
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(1)} s`;
}

/** An integer with thousands separators. */
export function count(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}
