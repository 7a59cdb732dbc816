/**
 * CallAbort, the call's light cancellation signal (src/core/call-signal.ts): the part of AbortSignal's
 * behaviour the Director and the adapters rely on, checked against a real AbortController doing the same.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { CallAbort, type CallSignal } from "../../src/core/call-signal.js";

/** Runs the same steps on a signal and returns what its listeners saw. */
function script(abort: (reason: unknown) => void, signal: CallSignal): string[] {
  const seen: string[] = [];
  const a = () => seen.push(`a:${String(signal.reason)}`);
  const b = () => seen.push("b");
  const c = () => seen.push("c");
  signal.addEventListener("abort", a, { once: true });
  signal.addEventListener("abort", b);
  signal.addEventListener("abort", c);
  signal.removeEventListener("abort", b);
  seen.push(`before:${signal.aborted}:${String(signal.reason)}`);
  abort("why");
  abort("again");
  seen.push(`after:${signal.aborted}:${String(signal.reason)}`);
  signal.addEventListener("abort", () => seen.push("late")); // added after the abort: never called
  return seen;
}

test("CallAbort: listeners once, in order, removed ones not called, reason kept from the first abort — as AbortController", () => {
  const real = new AbortController();
  const expected = script((r) => real.abort(r), real.signal);
  const light = new CallAbort();
  assert.deepEqual(script((r) => light.abort(r), light.signal), expected);
  assert.deepEqual(expected, ["before:false:undefined", "a:why", "c", "after:true:why"]);
});

test("CallAbort: a listener that throws does not stop the others; its error surfaces as an uncaught exception, as an EventTarget's does", () => {
  // In a process of its own: the test runner would take the uncaught exception for its own failure.
  const code = `
    import { CallAbort } from ${JSON.stringify(new URL("../../src/core/call-signal.ts", import.meta.url).href)};
    const light = new CallAbort();
    light.signal.addEventListener("abort", () => { throw new Error("listener failed"); });
    light.signal.addEventListener("abort", () => console.log("second listener ran"));
    light.abort("x");
  `;
  const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], { encoding: "utf8", timeout: 30_000 });
  assert.match(r.stdout, /second listener ran/);
  assert.match(r.stderr, /listener failed/);
  assert.notEqual(r.status, 0);
});
