/**
 * The errors the authenticator throws. Messages are fixed phrases chosen here: they never carry the
 * token, a claim value sent by the client, or key material. Why a token was refused is also kept as a
 * label from a fixed set ({@link AuthFailureReason}, the auth-failure metrics' `reason`), chosen where
 * the refusal is decided: the metrics never read the message text. Runtime-neutral.
 */
import { Code, ConnectError } from "@connectrpc/connect";

/** Why a token was refused, as the auth-failure metrics count it (a small fixed set: no client-made label). */
export type AuthFailureReason = "missing" | "expired" | "signature" | "algorithm" | "malformed" | "audience" | "issuer" | "not_yet_valid" | "invalid";

/**
 * The reason of each error made by {@link unauthenticated}. A side table, not the error's `cause`:
 * nothing but the status and message of an auth error may travel with it (SECURITY.md).
 */
const reasons = new WeakMap<ConnectError, AuthFailureReason>();

/** UNAUTHENTICATED: no usable token (missing, malformed, bad signature, expired, ...), counted under `reason`. */
export function unauthenticated(message: string, reason: AuthFailureReason): ConnectError {
  const err = new ConnectError(message, Code.Unauthenticated);
  reasons.set(err, reason);
  return err;
}

/** The reason an error of {@link unauthenticated} was made with; undefined for any other error. */
export function authFailureReasonOf(err: ConnectError): AuthFailureReason | undefined {
  return reasons.get(err);
}

/** PERMISSION_DENIED: a valid token that does not grant this call. */
export function permissionDenied(reason: string): ConnectError {
  return new ConnectError(reason, Code.PermissionDenied);
}
