/**
 * Invoking the Director for one call, so that every call ends exactly once whatever the handler does.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { Call, CallHandler, CallResponder } from "../core/call.js";

/**
 * Runs `handler(call, responder)`. If it throws, rejects, or settles without calling `end`, the call is
 * ended with INTERNAL (a handler should never do that; this keeps the client from hanging).
 */
export function runHandler(handler: CallHandler, call: Call, responder: CallResponder, isEnded: () => boolean): void {
  let p: Promise<void>;
  try {
    p = handler(call, responder);
  } catch (e) {
    p = Promise.reject(e);
  }
  p.then(
    () => {
      if (!isEnded()) responder.end(new ConnectError("internal error: the call handler returned without ending the call", Code.Internal), new Map());
    },
    (e: unknown) => {
      if (!isEnded()) responder.end(ConnectError.from(e, Code.Internal), new Map());
    },
  );
}

/** The error a call's signal is aborted with when the client goes away. */
export function clientCancelled(detail = "the client cancelled the call"): ConnectError {
  return new ConnectError(detail, Code.Canceled);
}
