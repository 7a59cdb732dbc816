/**
 * What the gateway's schemas (compiled protos, descriptor sets) say about a method, for the strict
 * protocol rules: request cardinality, GET only for `NO_SIDE_EFFECTS` methods, unary vs streaming
 * content types, unknown methods of known services. Runtime-neutral.
 */
import { type Registry } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { findMethod } from "./json-codec.js";

/** A method's kind, as its schema declares it. */
export type MethodKind = "unary" | "server_streaming" | "client_streaming" | "bidi_streaming";

/** A method the gateway has a schema for. */
export interface MethodSpec {
  readonly kind: MethodKind;
  /** `option idempotency_level = NO_SIDE_EFFECTS`: the only methods Connect serves over GET. */
  readonly noSideEffects: boolean;
}

/**
 * Finds a method path's spec: the spec, `null` when the service is known but has no such method, or
 * `undefined` when the gateway has no schema for the service (then the adapters are as lenient as
 * before: the node decides).
 */
export type MethodSpecLookup = (path: string) => MethodSpec | null | undefined;

/**
 * A {@link MethodSpecLookup} over a registry. Known paths are cached; unknown ones are not (clients
 * choose paths, so a negative cache would grow without bound).
 */
export function createMethodSpecLookup(registry: Registry): MethodSpecLookup {
  const cache = new Map<string, MethodSpec>();
  return (path) => {
    const hit = cache.get(path);
    if (hit !== undefined) return hit;
    const m = findMethod(registry, path);
    if (m === undefined) {
      const slash = path.lastIndexOf("/");
      return slash > 1 && registry.getService(path.slice(1, slash)) !== undefined ? null : undefined;
    }
    const spec: MethodSpec = { kind: m.methodKind, noSideEffects: m.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS };
    cache.set(path, spec);
    return spec;
  };
}

/** The kind, when it takes exactly one request message (unary, server streaming): `RequestStream`'s `single`. */
export function singleRequestKind(spec: MethodSpec | null | undefined): "unary" | "server_streaming" | undefined {
  return spec?.kind === "unary" || spec?.kind === "server_streaming" ? spec.kind : undefined;
}

/** The HTTP methods a known method's path allows (Connect GET only for `NO_SIDE_EFFECTS` unary methods). */
export function allowedHttpMethods(spec: MethodSpec): string {
  return spec.kind === "unary" && spec.noSideEffects ? "GET, POST" : "POST";
}
