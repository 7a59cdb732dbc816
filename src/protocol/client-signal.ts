/**
 * The Call's signal, tied to the client's connection (fetch-style adapters).
 */
import type { ConnectError } from "@connectrpc/connect";
import { clientCancelled } from "./run-handler.js";

/**
 * An AbortController for the Call, aborted (with CANCELLED) when the request's signal aborts: the
 * runtime's sign that the client went away. Returns the controller and a function that detaches it.
 */
export function linkClientSignal(requestSignal: AbortSignal | undefined): { ctrl: AbortController; detach: () => void } {
  const ctrl = new AbortController();
  if (requestSignal === undefined) return { ctrl, detach: noop };
  if (requestSignal.aborted) {
    ctrl.abort(clientCancelled("the client went away"));
    return { ctrl, detach: noop };
  }
  const onAbort = () => ctrl.abort(clientCancelled("the client went away"));
  requestSignal.addEventListener("abort", onAbort, { once: true });
  return { ctrl, detach: () => requestSignal.removeEventListener("abort", onAbort) };
}

/** Aborts with `err` unless already aborted. */
export function abortWith(ctrl: AbortController, err: ConnectError): void {
  if (!ctrl.signal.aborted) ctrl.abort(err);
}

function noop(): void {}
