/**
 * Which Connect requests the protocol serves, and how: unary POST, unary GET, or streaming, with the
 * strict rules where the gateway has the method's schema (as connect-es applies them). The
 * dispatcher's Connect step (src/protocol/dispatch.ts). Runtime-neutral.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { allowedHttpMethods, type MethodSpec } from "../protocol/method-spec.js";
import { refusal, type Refusal } from "../protocol/refusal.js";
import type { UniversalRequest } from "../protocol/universal.js";
import { parseConnectContentType } from "./content-type.js";
import type { ConnectOptions } from "./options.js";
import { connectErrorHead, kindMismatch, unknownMethod } from "./unary.js";

/** How a Connect request is served: unary POST (`unary`), unary GET (`get`), or `stream`; or refused. */
export type ConnectRoute = { readonly mode: "unary" | "get" | "stream"; readonly json: boolean } | { readonly refuse: Refusal };

/**
 * Classifies a Connect request. `spec`: the method's schema (`null`: the service is known, the method
 * is not; `undefined`: no schema). Refusals: an unknown method of a known service 404 (UNIMPLEMENTED);
 * GET where `allowGet` says no, or for a method that is not a `NO_SIDE_EFFECTS` unary one, 405
 * (`Allow: POST`); other HTTP methods 405 with `Allow`; a content type that is not Connect's 415; a
 * unary content type for a streaming method or the reverse 415. `contentType`: the request's, when
 * the caller has read it already.
 */
export function classifyConnect(
  req: Pick<UniversalRequest, "method" | "headers" | "path">,
  spec: MethodSpec | null | undefined,
  allowGet: ConnectOptions["allowGet"],
  contentType: string | null = req.headers.get("content-type"),
): ConnectRoute {
  const path = req.path;
  if (spec === null) return connectRefusal(unknownMethod(path), 404);
  if (req.method === "GET") {
    const allow = allowGet ?? true;
    // Connect serves GET for side-effect-free unary methods only (connect-es: 405 otherwise).
    if (allow === false || (typeof allow === "function" && !allow(path)) || (spec !== undefined && allowedHttpMethods(spec) !== "GET, POST")) {
      return { refuse: refusal(405, { allow: "POST" }) };
    }
    return { mode: "get", json: false };
  }
  if (req.method !== "POST") return { refuse: refusal(405, { allow: spec !== undefined ? allowedHttpMethods(spec) : "POST, GET" }) };
  const value = contentType;
  const ct = parseConnectContentType(value);
  if (ct === undefined) {
    return connectRefusal(new ConnectError(`unsupported content-type ${JSON.stringify(value)} for the Connect protocol`, Code.InvalidArgument), 415);
  }
  if (ct.stream) {
    if (spec?.kind === "unary") return connectRefusal(kindMismatch(path, value, "application/proto or application/json"), 415);
    return { mode: "stream", json: ct.json };
  }
  if (spec !== undefined && spec.kind !== "unary") {
    return connectRefusal(kindMismatch(path, value, "application/connect+proto or application/connect+json"), 415);
  }
  return { mode: "unary", json: ct.json };
}

function connectRefusal(error: ConnectError, status: number): { refuse: Refusal } {
  return { refuse: connectErrorHead(error, status) };
}
