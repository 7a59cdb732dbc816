/**
 * Which gRPC-Web requests the protocol serves: POST with a gRPC-Web content type (binary or text).
 * The dispatcher's gRPC-Web step (src/protocol/dispatch.ts). Runtime-neutral.
 */
import { refusal, type Refusal } from "../protocol/refusal.js";
import type { UniversalRequest } from "../protocol/universal.js";
import { parseGrpcWebContentType, type GrpcWebContentType } from "./content-type.js";

/** A gRPC-Web request the protocol serves, or its refusal (405, 415). */
export type GrpcWebRoute = { readonly contentType: GrpcWebContentType } | { readonly refuse: Refusal };

/** Non-POST: 405 with `Allow`; a content type that is not gRPC-Web: 415 with `Accept`. `contentType`: the request's, when read already. */
export function classifyGrpcWeb(req: Pick<UniversalRequest, "method" | "headers">, contentType: string | null = req.headers.get("content-type")): GrpcWebRoute {
  if (req.method !== "POST") return { refuse: refusal(405, { allow: "POST" }) };
  const ct = parseGrpcWebContentType(contentType);
  if (ct === undefined) return { refuse: refusal(415, { accept: "application/grpc-web, application/grpc-web-text" }) };
  return { contentType: ct };
}
