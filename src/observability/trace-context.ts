/**
 * W3C Trace Context: the browser's `traceparent` (and `tracestate`) continue into the nats-grpc
 * call's metadata with a new span id for the gateway hop; a trace is started when none came in.
 */
import type { Metadata } from "../protocol/metadata.js";

const traceparentRe = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

function randomHex(bytes: number): string {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  let s = "";
  for (let i = 0; i < b.length; i++) s += b[i]!.toString(16).padStart(2, "0");
  return s;
}

/**
 * Sets `traceparent` on `out` as a child of the incoming one (same trace id and flags, new span id),
 * or a new sampled trace; copies `tracestate` only with a valid parent. Returns the trace id.
 */
export function propagateTrace(incoming: Metadata, out: Metadata): string {
  const m = traceparentRe.exec(incoming.get("traceparent")?.[0] ?? "");
  let traceId: string;
  let flags = "01";
  if (m && !/^0+$/.test(m[1]!) && !/^0+$/.test(m[2]!)) {
    traceId = m[1]!;
    flags = m[3]!;
    const state = incoming.get("tracestate");
    if (state) out.set("tracestate", state);
  } else {
    traceId = randomHex(16);
    out.delete("tracestate");
  }
  out.set("traceparent", [`00-${traceId}-${randomHex(8)}-${flags}`]);
  return traceId;
}
