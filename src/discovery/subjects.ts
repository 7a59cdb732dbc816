/** nats-discovery subjects (spec §2.2). */

/** Prefix of node → registry traffic (save/update/delete) and of Get requests. */
export const PUBLISH_PREFIX = "node.publish";
/** Prefix of registry → watcher events. */
export const DISCOVERY_PREFIX = "node.discovery";

/** `node.publish.<Service>.<DC>.<NID>`: where a node sends save/update/delete. */
export function publishSubject(node: { Service: string; DC: string; NID: string }): string {
  return `${PUBLISH_PREFIX}.${node.Service}.${node.DC}.${node.NID}`;
}

/** `node.publish.<service>`: where Get goes (`node.publish.*` for all services, a literal `*`). */
export function getSubject(service: string): string {
  return `${PUBLISH_PREFIX}.${service}`;
}

/** `node.discovery.<service>.>`: what a watcher subscribes to (`*` → every service). */
export function watchSubject(service: string): string {
  return `${DISCOVERY_PREFIX}.${service}.>`;
}

/** The registry's rewrite: `node.publish.X` → `node.discovery.X`; undefined if not a publish subject. */
export function discoverySubjectFor(publish: string): string | undefined {
  return publish.startsWith(PUBLISH_PREFIX + ".") ? DISCOVERY_PREFIX + publish.slice(PUBLISH_PREFIX.length) : undefined;
}

/** True if `s` is usable as one NATS subject token (no `.`, `*`, `>`, whitespace; not empty). */
export function isSubjectToken(s: string): boolean {
  return s.length > 0 && !/[\s.*>]/.test(s);
}
