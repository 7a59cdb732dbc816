/**
 * Connect content types: unary `application/proto|json`, streaming `application/connect+proto|json`.
 */

/** What a Connect content type says. */
export interface ConnectContentType {
  readonly stream: boolean;
  readonly json: boolean;
}

const re = /^application\/(connect\+)?(proto|json)(?:\s*;\s*charset\s*=\s*"?utf-?8"?)?\s*$/i;

/** Parses a Connect request content type; undefined when it is not one (→ 415). */
export function parseConnectContentType(value: string | null): ConnectContentType | undefined {
  if (value === null) return undefined;
  const m = re.exec(value);
  if (m === null) return undefined;
  return { stream: m[1] !== undefined, json: m[2]!.toLowerCase() === "json" };
}

/** Unary binary content type. */
export const contentTypeUnaryProto = "application/proto";
/** Unary JSON content type (also every unary error body). */
export const contentTypeUnaryJson = "application/json";
/** Streaming binary content type. */
export const contentTypeStreamProto = "application/connect+proto";
/** Streaming JSON content type. */
export const contentTypeStreamJson = "application/connect+json";
