/**
 * gRPC status code ⇄ HTTP status.
 */
import { Code } from "@connectrpc/connect";

const toHttp: Record<Code, number> = {
  [Code.Canceled]: 499,
  [Code.Unknown]: 500,
  [Code.InvalidArgument]: 400,
  [Code.DeadlineExceeded]: 504,
  [Code.NotFound]: 404,
  [Code.AlreadyExists]: 409,
  [Code.PermissionDenied]: 403,
  [Code.ResourceExhausted]: 429,
  [Code.FailedPrecondition]: 400,
  [Code.Aborted]: 409,
  [Code.OutOfRange]: 400,
  [Code.Unimplemented]: 501,
  [Code.Internal]: 500,
  [Code.Unavailable]: 503,
  [Code.DataLoss]: 500,
  [Code.Unauthenticated]: 401,
};

/** The HTTP status of a Connect unary error (connectrpc.com/docs/protocol#error-codes). */
export function codeToHttpStatus(code: Code): number {
  return toHttp[code] ?? 500;
}

/**
 * The gRPC code a client infers from a non-200 HTTP status without a grpc-status
 * (grpc/doc/http-grpc-status-mapping.md).
 */
export function codeFromHttpStatus(status: number): Code {
  switch (status) {
    case 400:
      return Code.Internal;
    case 401:
      return Code.Unauthenticated;
    case 403:
      return Code.PermissionDenied;
    case 404:
      return Code.Unimplemented;
    case 429:
    case 502:
    case 503:
    case 504:
      return Code.Unavailable;
    default:
      return Code.Unknown;
  }
}

/** The lower-case snake_case name Connect uses for a code (`"permission_denied"`). */
export function codeToString(code: Code): string {
  const name = Code[code] as string | undefined;
  if (name === undefined) return "unknown";
  if (code === Code.Canceled) return "canceled";
  return name.replace(/[A-Z]/g, (c, i: number) => (i === 0 ? "" : "_") + c.toLowerCase());
}
