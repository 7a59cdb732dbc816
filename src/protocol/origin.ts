/**
 * Origin allow-lists, shared by CORS and the WebSocket origin check.
 */

/**
 * True when `origin` is allowed: the list is `"*"`, or holds the origin exactly (case-insensitive), or
 * holds a pattern `scheme://*.domain` matching a subdomain (`https://*.example.com` allows
 * `https://a.example.com`, not `https://example.com`).
 */
export function isOriginAllowed(origin: string, allow: readonly string[] | "*"): boolean {
  if (allow === "*") return true;
  const o = origin.toLowerCase();
  for (const a of allow) {
    const p = a.toLowerCase();
    if (p === o || p === "*") return true;
    const star = p.indexOf("://*.");
    if (star > 0) {
      const scheme = p.slice(0, star + 3);
      const suffix = p.slice(star + 4); // ".example.com[:port]"
      if (o.startsWith(scheme) && o.endsWith(suffix) && o.length > scheme.length + suffix.length && !o.slice(scheme.length, o.length - suffix.length).includes("/")) {
        return true;
      }
    }
  }
  return false;
}
