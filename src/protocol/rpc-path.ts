/**
 * The shape of an RPC path as a runtime sees the raw request target, before any router. Runtime-neutral.
 */

/**
 * True for an origin-form target `/<service>/<method>` that the app's route `/:service/:method`
 * matches as it stands: two non-empty segments of unreserved and sub-delimiter characters (no `%`,
 * so nothing to decode; no dot segments, query, fragment or backslash, so the URL parser keeps it).
 */
export function isRpcPath(p: string): boolean {
  const n = p.length;
  if (n < 4 || p.charCodeAt(0) !== 0x2f) return false;
  let slash = -1;
  for (let i = 1; i < n; i++) {
    const c = p.charCodeAt(i);
    if (c === 0x2f) {
      if (slash !== -1) return false;
      slash = i;
    } else if (c >= 128 || !pathChar[c]) return false;
  }
  if (slash === -1 || slash === 1 || slash === n - 1) return false;
  return !isDotSegment(p, 1, slash) && !isDotSegment(p, slash + 1, n);
}

const pathChar = new Uint8Array(128);
for (const c of "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@") pathChar[c.charCodeAt(0)] = 1;

function isDotSegment(p: string, start: number, end: number): boolean {
  const len = end - start;
  return (len === 1 && p[start] === ".") || (len === 2 && p[start] === "." && p[start + 1] === ".");
}
