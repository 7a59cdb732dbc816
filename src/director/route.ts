/**
 * Method → discovery service, in O(depth of the package name) Map lookups, never a scan over
 * services. ION's rule: the protobuf package of the method names the discovery service (`/rtc.RTC/…`
 * → `rtc`), limited to `[signal.svc] services`; explicit routes map a package or full service name
 * to any discovery service (`demo.v1` → `demo`, `grpc.health.v1.Health` → `health`).
 */
import type { Procedure } from "../nrpc/subject.js";

/** A route table. */
export interface RouteTable {
  /** Discovery service for a parsed procedure, or undefined (UNIMPLEMENTED). */
  resolve(p: Procedure): string | undefined;
}

/**
 * Builds a route table. `services` are ION's `[signal.svc] services` (a name routes itself);
 * `routes` map a dotted prefix of the full service name to a discovery service. The longest matching
 * prefix wins.
 */
export function createRouteTable(services: readonly string[], routes: Readonly<Record<string, string>> = {}): RouteTable {
  const table = new Map<string, string>();
  for (const s of services) table.set(s, s);
  for (const [prefix, svc] of Object.entries(routes)) table.set(prefix.replace(/^\/+|\.+$/g, ""), svc);
  const cache = new Map<string, string | null>();
  return {
    resolve(p) {
      const hit = cache.get(p.service);
      if (hit !== undefined) return hit ?? undefined;
      // Longest prefix first: `a.b.C`, `a.b`, `a`.
      let name = p.service;
      let found: string | undefined;
      for (;;) {
        found = table.get(name);
        if (found !== undefined) break;
        const dot = name.lastIndexOf(".");
        if (dot < 0) break;
        name = name.slice(0, dot);
      }
      if (cache.size < 10_000) cache.set(p.service, found ?? null);
      return found;
    },
  };
}
