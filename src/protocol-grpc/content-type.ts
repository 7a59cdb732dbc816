/**
 * Native gRPC content types: `application/grpc`, `+proto`, `+json` (not gRPC-Web). Runtime-neutral.
 */

/** Matches a native gRPC content type; group 1 is the codec (`proto`, `json`) when named. */
export const grpcContentTypeRe = /^application\/grpc(?:\+(proto|json))?(?:\s*;.*)?$/i;

/** True for a native gRPC content type (`application/grpc`, `+proto`, `+json`; not gRPC-Web). */
export function isGrpcContentType(value: string | undefined | null): boolean {
  return value != null && grpcContentTypeRe.test(value);
}
