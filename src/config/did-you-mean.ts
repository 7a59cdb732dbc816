/**
 * " (did you mean "x"?)" for a mistyped config key: the closest known name by edit distance, when it
 * is close enough to be the likely intent. Runtime-neutral.
 */

/** Levenshtein distance between `a` and `b` (insert, delete, substitute: 1 each). */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/**
 * The suffix naming the known key closest to `key` (case and `-`/`_` ignored), or "" when none is
 * within a third of the key's length (at least 2 edits): `max_mesage_bytes` → ` (did you mean
 * "max_message_bytes"?)`, `zzz` → "".
 */
export function didYouMean(key: string, known: Iterable<string>): string {
  const norm = (s: string) => s.toLowerCase().replace(/-/g, "_");
  const k = norm(key);
  let best = "";
  let bestD = Math.max(2, Math.floor(k.length / 3)) + 1;
  for (const c of known) {
    const d = editDistance(k, norm(c));
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best ? ` (did you mean ${JSON.stringify(best)}?)` : "";
}
