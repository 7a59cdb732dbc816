/**
 * The Call's signal, tied to the client's connection (fetch-style adapters).
 */
import type { ConnectError } from "@connectrpc/connect";
import { CallAbort } from "../core/call-signal.js";
import { clientCancelled } from "./run-handler.js";

/**
 * How a runtime without a fetch `Request` tells that the client went away: `watch(onGone)` calls
 * `onGone` once the client is gone (at once if it already is) and returns a function that stops watching.
 */
export type ClientWatch = (onGone: () => void) => () => void;

/**
 * The Call's {@link CallAbort}, aborted (with CANCELLED) when the request's signal aborts (or the
 * runtime's {@link ClientWatch} fires): the runtime's sign that the client went away. `onGone` runs
 * right after that abort (a responder stops writing and closes its request stream). Returns the
 * controller and a function that detaches it.
 */
export function linkClientSignal(
  requestSignal: AbortSignal | ClientWatch | undefined,
  onGone?: () => void,
): { ctrl: CallAbort; detach: () => void } {
  const ctrl = new CallAbort();
  if (requestSignal === undefined) return { ctrl, detach: noop };
  const gone = () => {
    if (ctrl.signal.aborted) return;
    ctrl.abort(clientCancelled("the client went away"));
    onGone?.();
  };
  if (typeof requestSignal === "function") return { ctrl, detach: requestSignal(gone) };
  if (requestSignal.aborted) {
    gone();
    return { ctrl, detach: noop };
  }
  requestSignal.addEventListener("abort", gone, { once: true });
  return { ctrl, detach: () => requestSignal.removeEventListener("abort", gone) };
}

/** Aborts with `err` unless already aborted. */
export function abortWith(ctrl: CallAbort, err: ConnectError): void {
  ctrl.abort(err);
}

function noop(): void {}
