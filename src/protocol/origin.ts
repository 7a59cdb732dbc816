/**
 * Origin allow-lists, shared by CORS and the HTTP and WebSocket origin checks. Runs everywhere
 * (runtime-neutral).
 *
 * An Origin header is parsed into scheme, host and port before it is compared with anything, and only
 * a serialized origin as browsers send it (RFC 6454: `scheme://host[:port]`, nothing after) parses:
 * `https://evil.com#.ok.example.com`, `…?…`, `…\…`, `…/…`, userinfo, `null` and the empty string are
 * malformed, so they match no pattern. A pattern's `*.` matches hosts only: `https://*.example.com`
 * allows `https://a.example.com` and `https://a.b.example.com`, never `https://example.com`.
 */

/** An origin or an allow-list entry, parsed. Scheme and host are lower case; a default port is "". */
export interface ParsedOrigin {
  readonly scheme: string;
  /** DNS name or IPv4 (`a.example.com`), or an IPv6 literal in brackets (`[::1]`). */
  readonly host: string;
  /** Decimal port, or "" for none or the scheme's default (80 for http/ws, 443 for https/wss). */
  readonly port: string;
}

/** An allow-list entry: an exact origin, or (`wildcard`) any subdomain of `host`. */
export interface OriginPattern extends ParsedOrigin {
  readonly wildcard: boolean;
}

/** The default port of a web scheme: 80 for http/ws, 443 for https/wss, "" for others. */
export function defaultPort(scheme: string): string {
  return scheme === "https" || scheme === "wss" ? "443" : scheme === "http" || scheme === "ws" ? "80" : "";
}

// scheme "://" (IPv6 literal | DNS name or IPv4) [":" port]; the host part is checked label by label below.
const originRe = /^([a-z][a-z0-9+.-]*):\/\/(\[[0-9a-f:.]+\]|[a-z0-9_.*-]+)(?::([0-9]{1,5}))?$/;
const labelRe = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

function parse(text: string, allowWildcard: boolean): OriginPattern | undefined {
  if (text.length > 300) return undefined; // a host is at most 253 characters
  const m = originRe.exec(text.toLowerCase());
  if (!m) return undefined;
  const scheme = m[1]!;
  let host = m[2]!;
  const rawPort = m[3] ?? "";
  if (rawPort !== "" && (rawPort[0] === "0" || Number(rawPort) > 65535)) return undefined;
  const port = rawPort === defaultPort(scheme) ? "" : rawPort;
  let wildcard = false;
  if (allowWildcard && host.startsWith("*.")) {
    wildcard = true;
    host = host.slice(2);
  }
  if (host[0] !== "[") {
    if (host.length > 253 || !host.split(".").every((l) => labelRe.test(l))) return undefined;
  } else if (wildcard) return undefined;
  return { scheme, host, port, wildcard };
}

/** Parses an `Origin` header value; undefined when it is not exactly `scheme://host[:port]`. */
export function parseOrigin(origin: string): ParsedOrigin | undefined {
  const p = parse(origin, false);
  return p && { scheme: p.scheme, host: p.host, port: p.port };
}

/**
 * Parses an allow-list entry: `scheme://host[:port]`, or `scheme://*.domain[:port]` for its
 * subdomains. Undefined when malformed (the config refuses such entries at start).
 */
export function parseOriginPattern(pattern: string): OriginPattern | undefined {
  return parse(pattern, true);
}

/** Whether `origin` (parsed) is allowed by `pattern`. */
export function originMatches(origin: ParsedOrigin, pattern: OriginPattern): boolean {
  if (origin.scheme !== pattern.scheme || origin.port !== pattern.port) return false;
  return pattern.wildcard ? origin.host.endsWith("." + pattern.host) : origin.host === pattern.host;
}

/** Compiled allow-lists, per list (configs hold one list for the process's life). */
const compiled = new WeakMap<readonly string[], readonly OriginPattern[]>();

function patternsOf(allow: readonly string[]): readonly OriginPattern[] {
  let ps = compiled.get(allow);
  if (!ps) {
    ps = allow.flatMap((a) => parseOriginPattern(a) ?? []);
    compiled.set(allow, ps);
  }
  return ps;
}

/**
 * True when `origin` is allowed: the list is `"*"` (or holds `*`), or `origin` parses and matches an
 * entry by scheme, host and port (entries `scheme://*.domain` match subdomains). A malformed origin is
 * never allowed by a list; malformed entries match nothing.
 */
export function isOriginAllowed(origin: string, allow: readonly string[] | "*"): boolean {
  if (allow === "*" || allow.includes("*")) return true;
  const o = parseOrigin(origin);
  if (!o) return false;
  for (const p of patternsOf(allow)) if (originMatches(o, p)) return true;
  return false;
}
