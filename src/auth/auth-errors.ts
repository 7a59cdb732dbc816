/**
 * The errors the authenticator throws. Messages are fixed phrases chosen here: they never carry the
 * token, a claim value sent by the client, or key material.
 */
import { Code, ConnectError } from "@connectrpc/connect";

/** UNAUTHENTICATED: no usable token (missing, malformed, bad signature, expired, ...). */
export function unauthenticated(reason: string): ConnectError {
  return new ConnectError(reason, Code.Unauthenticated);
}

/** PERMISSION_DENIED: a valid token that does not grant this call. */
export function permissionDenied(reason: string): ConnectError {
  return new ConnectError(reason, Code.PermissionDenied);
}
