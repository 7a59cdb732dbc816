/**
 * The Call's signal, tied to the client's connection (fetch-style adapters).
 */
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
  const detach = watchClient(requestSignal, () => {
    if (ctrl.signal.aborted) return;
    ctrl.abort(clientCancelled("the client went away"));
    onGone?.();
  });
  return { ctrl, detach };
}

/**
 * Calls `onGone` once the runtime says the client went away (at once if it already has): a fetch
 * `AbortSignal` aborts, or a {@link ClientWatch} fires. Returns what stops watching.
 */
export function watchClient(signal: AbortSignal | ClientWatch | undefined, onGone: () => void): () => void {
  if (signal === undefined) return noop;
  if (typeof signal === "function") return signal(onGone);
  if (signal.aborted) {
    onGone();
    return noop;
  }
  signal.addEventListener("abort", onGone, { once: true });
  return () => signal.removeEventListener("abort", onGone);
}

function noop(): void {}
