/**
 * An in-process CallHandler for the protocol tests: answers like demo.v1.EchoService, plus test modes
 * chosen by request metadata, and records what happened to every call.
 *
 * Modes (`x-test-mode`):
 *   fail   — end with `x-fail-code` (default 7) / `x-fail-message`, trailers `x-trailer: t`;
 *            with `x-fail-after-header: 1` a header is sent first (not trailers-only); with
 *            `x-fail-after-read: 1` one request message is read first.
 *   sleep  — wait until the signal aborts (or `timeoutMs` passes: then DEADLINE_EXCEEDED).
 *   flood  — send 8 KiB responses, awaiting each promise `message()` returns; when one stays pending
 *            (300 ms) record the count and wait for the abort.
 *   meta   — echo, with header `x-header: h` and trailer `x-trailer: t`, plus `x-echo-<key>` for each
 *            request metadata key.
 */
import { fromBinary, toBinary, create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { EchoRequestSchema, EchoResponseSchema } from "../../src/gen/demo/v1/echo_pb.js";
import type { Call, CallHandler, CallResponder } from "../../src/core/call.js";
import type { Metadata } from "../../src/core/metadata.js";
import { within } from "./wait.js";

/** What the handler saw of one call. */
export interface CallRecord {
  readonly call: Call;
  readonly requests: { message: string; repeat: number }[];
  /** The error the request iterable threw, if it did. */
  requestError?: ConnectError;
  /** Set when the signal aborted, with its reason. */
  aborted?: unknown;
  /** flood: message() first returned a promise after this many messages. */
  pendingAfter?: number;
  /** flood: the message count at which a promise stayed pending (300 ms): the client stopped reading. */
  stalledAt?: number;
  /** flood: whether that promise has settled (updated live). */
  pendingSettled?: boolean;
  /** Resolves when the handler returned. */
  readonly done: Promise<void>;
}

export interface EchoHandler {
  readonly handler: CallHandler;
  readonly calls: CallRecord[];
  /** The next call that starts (resolves at handler entry; fails after `ms`, 10 s by default). */
  nextCall(ms?: number): Promise<CallRecord>;
}

const encoder = (message: string) => toBinary(EchoResponseSchema, create(EchoResponseSchema, { message, node: "test" }));

export function createEchoHandler(): EchoHandler {
  const calls: CallRecord[] = [];
  let waiters: ((r: CallRecord) => void)[] = [];
  const handler: CallHandler = async (call, res) => {
    let finish!: () => void;
    const rec: CallRecord = { call, requests: [], done: new Promise((r) => (finish = r)) };
    calls.push(rec);
    call.signal.addEventListener("abort", () => (rec.aborted = call.signal.reason ?? true), { once: true });
    const w = waiters;
    waiters = [];
    for (const f of w) f(rec);
    try {
      await serve(call, res, rec);
    } finally {
      finish();
    }
  };
  return {
    handler,
    calls,
    nextCall: (ms = 10_000) => within(new Promise<CallRecord>((r) => waiters.push(r)), ms, "the next call at the echo handler"),
  };
}

function first(md: Metadata, k: string): string | undefined {
  return md.get(k)?.[0];
}

async function* decoded(call: Call, rec: CallRecord): AsyncGenerator<{ message: string; repeat: number }> {
  try {
    for await (const m of call.requests) {
      const r = fromBinary(EchoRequestSchema, m);
      const v = { message: r.message, repeat: r.repeat };
      rec.requests.push(v);
      yield v;
    }
  } catch (e) {
    rec.requestError = ConnectError.from(e);
    throw e;
  }
}

async function serve(call: Call, res: CallResponder, rec: CallRecord): Promise<void> {
  const mode = first(call.metadata, "x-test-mode");
  const method = call.path.slice(call.path.lastIndexOf("/") + 1);
  try {
    if (mode === "fail") {
      if (first(call.metadata, "x-fail-after-read") === "1") for await (const _ of decoded(call, rec)) break;
      if (first(call.metadata, "x-fail-after-header") === "1") res.header(new Map([["x-header", ["h"]]]));
      const code = Number(first(call.metadata, "x-fail-code") ?? Code.PermissionDenied) as Code;
      res.end(new ConnectError(decodeURIComponent(first(call.metadata, "x-fail-message") ?? "failed"), code), new Map([["x-trailer", ["t"]]]));
      return;
    }
    if (mode === "sleep") {
      await new Promise<void>((resolve) => {
        if (call.signal.aborted) return resolve();
        call.signal.addEventListener("abort", () => resolve(), { once: true });
        if (call.timeoutMs !== undefined) setTimeout(resolve, call.timeoutMs).unref();
      });
      res.end(call.signal.aborted ? new ConnectError("cancelled", Code.Canceled) : new ConnectError("deadline exceeded", Code.DeadlineExceeded), new Map());
      return;
    }
    if (mode === "flood") {
      res.header(new Map());
      const payload = new Uint8Array(8 * 1024).fill(7);
      const aborted = new Promise<void>((resolve) => {
        if (call.signal.aborted) return resolve();
        call.signal.addEventListener("abort", () => resolve(), { once: true });
      });
      for (let i = 1; i < 100_000 && !call.signal.aborted; i++) {
        const p = res.message(payload);
        if (!p) continue;
        rec.pendingAfter ??= i;
        let settled = false;
        void p.then(() => (settled = true));
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([p, aborted, new Promise<void>((resolve) => (timer = setTimeout(resolve, 300)))]);
        clearTimeout(timer);
        if (call.signal.aborted) break;
        if (settled) continue;
        // stalled: the client does not read; like the Director, wait until it goes away
        rec.stalledAt = i;
        rec.pendingSettled = false;
        void p.then(() => (rec.pendingSettled = true));
        await aborted;
        break;
      }
      res.end(call.signal.aborted ? new ConnectError("cancelled", Code.Canceled) : undefined, new Map());
      return;
    }
    const header: Metadata = new Map();
    const trailers: Metadata = new Map();
    if (mode === "meta") {
      header.set("x-header", ["h"]);
      trailers.set("x-trailer", ["t"]);
      for (const [k, v] of call.metadata) header.set("x-echo-" + k, v);
    }
    switch (method) {
      case "Echo": {
        let req: { message: string } | undefined;
        for await (const r of decoded(call, rec)) {
          req = r;
          break;
        }
        res.header(header);
        await res.message(encoder(req?.message ?? ""));
        res.end(undefined, trailers);
        return;
      }
      case "EchoStream": {
        let req: { message: string; repeat: number } | undefined;
        for await (const r of decoded(call, rec)) {
          req = r;
          break;
        }
        res.header(header);
        const n = Math.max(1, req?.repeat ?? 1);
        for (let i = 0; i < n; i++) await res.message(encoder(`${req?.message ?? ""} ${i}`));
        res.end(undefined, trailers);
        return;
      }
      case "EchoClientStream": {
        const all: string[] = [];
        for await (const r of decoded(call, rec)) all.push(r.message);
        res.header(header);
        await res.message(encoder(all.join(" ")));
        res.end(undefined, trailers);
        return;
      }
      case "EchoBidi": {
        res.header(header);
        for await (const r of decoded(call, rec)) await res.message(encoder(r.message));
        res.end(undefined, trailers);
        return;
      }
      default:
        res.end(new ConnectError(`unknown method ${call.path}`, Code.Unimplemented), new Map());
    }
  } catch (e) {
    res.end(ConnectError.from(e), new Map());
  }
}
