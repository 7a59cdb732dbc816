/**
 * gRPC-Web content types: binary `application/grpc-web[+proto|+json]`, text `application/grpc-web-text[+proto|+json]`.
 */

/** What a gRPC-Web content type says. */
export interface GrpcWebContentType {
  /** Base64 ("text") mode. */
  readonly text: boolean;
  readonly json: boolean;
}

const re = /^application\/grpc-web(-text)?(?:\+(proto|json))?(?:\s*;.*)?$/i;

/** Parses a gRPC-Web request content type; undefined when it is not one (→ 415). */
export function parseGrpcWebContentType(value: string | null): GrpcWebContentType | undefined {
  if (value === null) return undefined;
  const m = re.exec(value);
  if (m === null) return undefined;
  return { text: m[1] !== undefined, json: m[2]?.toLowerCase() === "json" };
}

/** The response content type for a request's mode. */
export function grpcWebResponseContentType(t: GrpcWebContentType): string {
  return "application/grpc-web" + (t.text ? "-text" : "") + (t.json ? "+json" : "+proto");
}
