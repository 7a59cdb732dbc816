/**
 * nats-grpc subjects: `nrpc.<nid>.<pkg.Service>.<Method>`. Everything that ends up in a subject is
 * validated here first, so a crafted path or nid can never inject `*`, `>`, whitespace or extra tokens.
 */

/** Max length of one part we accept into a subject (nid, service, method). */
export const maxSubjectPartLength = 256;

// A NATS token: no empty string, no `.`, `*`, `>`, whitespace or control characters. We are stricter
// and allow only characters that appear in protobuf identifiers and ION nids.
const tokenRe = /^[A-Za-z0-9_-]+$/;
// A protobuf full service name: dot-separated identifiers (`rtc.RTC`, `grpc.reflection.v1alpha.X`).
const serviceRe = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$/;
// A protobuf method name: one identifier.
const methodRe = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** True if `s` can be one NATS subject token (used for nids). */
export function isSubjectToken(s: string): boolean {
  return s.length > 0 && s.length <= maxSubjectPartLength && tokenRe.test(s);
}

/** True if `s` is a protobuf full service name that is safe in a subject. */
export function isServiceName(s: string): boolean {
  return s.length > 0 && s.length <= maxSubjectPartLength && serviceRe.test(s);
}

/** True if `s` is a protobuf method name that is safe in a subject. */
export function isMethodName(s: string): boolean {
  return s.length > 0 && s.length <= maxSubjectPartLength && methodRe.test(s);
}

/** A method path split into its parts: `/pkg.Service/Method`. */
export interface Procedure {
  /** `/pkg.Service/Method` */
  readonly path: string;
  /** `pkg.Service` */
  readonly service: string;
  /** `Method` */
  readonly method: string;
  /** `pkg` (ION's discovery service name: the protobuf package), or "" without a package. */
  readonly pkg: string;
}

/**
 * Parses and validates `/pkg.Service/Method`. Returns undefined for anything else — in particular
 * for paths with subject wildcards, extra slashes or tokens, percent-escapes or whitespace.
 */
export function parseProcedure(path: string): Procedure | undefined {
  if (path.length < 4 || path.charCodeAt(0) !== 47 /* / */) return undefined;
  const slash = path.indexOf("/", 1);
  if (slash < 0 || path.indexOf("/", slash + 1) >= 0) return undefined;
  const service = path.slice(1, slash);
  const method = path.slice(slash + 1);
  if (!isServiceName(service) || !isMethodName(method)) return undefined;
  const dot = service.lastIndexOf(".");
  return { path, service, method, pkg: dot < 0 ? "" : service.slice(0, dot) };
}

/** The subject a client publishes a call to: `nrpc.<nid>.<service>.<method>` (`nrpc.<service>.<method>` without nid). */
export function callSubject(nid: string, service: string, method: string): string {
  return nid ? `nrpc.${nid}.${service}.${method}` : `nrpc.${service}.${method}`;
}

/** The prefix a server subscribes under (with `.>`): `nrpc.<nid>.<service>`. */
export function servicePrefix(nid: string, service: string): string {
  return nid ? `nrpc.${nid}.${service}` : `nrpc.${service}`;
}
