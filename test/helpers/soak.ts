/**
 * Soak runs (`EDGE_SIGNAL_SOAK=1`, Node test process): case counts and hang guards that grow, and one
 * summary line per file of what it tried.
 */
/** One summary line per file: what it tried, by kind. */
export function summary(file: string, counts: Record<string, number | string>): void {
  console.log(`[reliability] ${file}: ` + Object.entries(counts).map(([k, v]) => `${k}=${v}`).join(" "));
}
/** `EDGE_SIGNAL_SOAK=1` runs the long variants: more cases, longer hang guards. */
export const SOAK = process.env.EDGE_SIGNAL_SOAK === "1";
/** `n` cases, or `n × factor` in a soak run. */
export const scaled = (n: number, factor = 10): number => (SOAK ? n * factor : n);
/** A test timeout that grows with {@link scaled}. */
export const budget = (ms: number, factor = 10): number => (SOAK ? ms * factor * 2 : ms);
