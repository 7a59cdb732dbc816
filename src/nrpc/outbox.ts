/**
 * Batched publishing for the nats-grpc client and server. nats.js writes its outbound buffer on the
 * microtask after the first publish, but one call's envelopes are made a few microtasks apart (the
 * Call, then the Data once the request iterator resolves; a reply's Data, then its End once the
 * handler's promise settles), so each went out in its own socket write — the largest single cost on
 * the unary path in the bench profile (about a fifth of the gateway's and of a demo node's CPU).
 * Messages queued while the current event-loop turn runs are handed to nats.js together after it
 * (`setImmediate`: after the I/O callbacks of the turn, so the calls of every HTTP request read in
 * one poll leave in one write, not one write each; `process.nextTick`, or a microtask, where there is
 * no `setImmediate`), in order. A burst (a stream produced without awaiting anything) is handed
 * over every {@link outboxMaxBytes} instead, so that its first messages are not held back until the
 * last.
 *
 * Nothing is dropped in silence: a message nats.js refuses (connection closed or draining, payload
 * over the server's `max_payload`) is reported to the `onError` given with it, on a later microtask
 * (never from inside another call's `publish`). Callers check sizes first with {@link Outbox.fits}.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { MaxPayloadError } from "./errors.js";
import { hopRecorder, type Hop } from "./bench-hooks.js";

type Defer = (fn: () => void) => void;

/** Told why a queued message could not be published ({@link MaxPayloadError} when it was too large). */
export type PublishErrorHandler = (error: Error) => void;

/** Queued bytes that make the outbox hand over at once. */
export const outboxMaxBytes = 64 * 1024;

const immediate = (globalThis as { setImmediate?: (fn: () => void) => unknown }).setImmediate;
const nextTick = (globalThis as { process?: { nextTick?: (fn: () => void) => void } }).process?.nextTick;
const defer: Defer =
  typeof immediate === "function" ? (fn) => void immediate(fn) : typeof nextTick === "function" ? (fn) => nextTick(fn) : (fn) => queueMicrotask(fn);

/** Publishes through one NATS connection, batched per event-loop turn. */
export class Outbox {
  private subjects: string[] = [];
  private payloads: Uint8Array[] = [];
  private replies: (string | undefined)[] = [];
  private onErrors: (PublishErrorHandler | undefined)[] = [];
  private bytes = 0;
  private scheduled = false;
  /** Told once the messages queued before them have been handed to nats.js (see {@link afterFlush}). */
  private flushed: (() => void)[] = [];

  /** @param hop the bench hop a flush marks (./bench-hooks.ts): `published` for a client, `node-replied` for a server. */
  constructor(
    private readonly nc: NatsConnection,
    private readonly hop: Hop = "published",
  ) {}

  /**
   * The connected server's `max_payload` (the largest message it takes, in bytes), or 0 while it is
   * not known (no connection).
   */
  get maxPayload(): number {
    return this.nc.info?.max_payload ?? 0;
  }

  /** False when `data` is larger than the connected server takes (nats.js would refuse it). */
  fits(data: Uint8Array): boolean {
    const max = this.maxPayload;
    return max <= 0 || data.byteLength <= max;
  }

  /**
   * Queues one message; it is published at the end of the current event-loop turn. If nats.js
   * refuses it then, `onError` is told (on a microtask).
   */
  publish(subject: string, data: Uint8Array, reply?: string, onError?: PublishErrorHandler): void {
    this.subjects.push(subject);
    this.payloads.push(data);
    this.replies.push(reply);
    this.onErrors.push(onError);
    this.bytes += data.byteLength;
    if (this.bytes >= outboxMaxBytes) {
      this.flush();
      return;
    }
    if (!this.scheduled) {
      this.scheduled = true;
      defer(this.onTick);
    }
  }

  /**
   * Calls `fn` once everything queued so far has been handed to nats.js and written to its socket: on
   * the microtask after the next flush's (nats.js writes its outbound buffer on a microtask), or at once
   * if nothing is queued. The paced sender to Go nodes counts its gap from here, not from when it queued
   * the message (the turn can run on for milliseconds before the flush, and the gap would be spent
   * before the message left).
   */
  afterFlush(fn: () => void): void {
    if (this.subjects.length === 0) fn();
    else this.flushed.push(fn);
  }

  private readonly onTick = (): void => {
    this.scheduled = false;
    this.flush();
  };

  /** Hands everything queued to the NATS client now (also called before a close). */
  readonly flush = (): void => {
    const n = this.subjects.length;
    if (n === 0) return;
    const subjects = this.subjects;
    const payloads = this.payloads;
    const replies = this.replies;
    const onErrors = this.onErrors;
    this.subjects = [];
    this.payloads = [];
    this.replies = [];
    this.onErrors = [];
    this.bytes = 0;
    for (let i = 0; i < n; i++) {
      const reply = replies[i];
      try {
        this.nc.publish(subjects[i]!, payloads[i]!, reply !== undefined ? { reply } : undefined);
      } catch (e) {
        const onError = onErrors[i];
        if (onError) {
          // Over the server's max_payload is told by size, not by nats.js's wording: the handler
          // decides on the class (a status RESOURCE_EXHAUSTED, not UNAVAILABLE).
          const cause = e instanceof Error ? e : new Error(String(e));
          const err = this.fits(payloads[i]!) ? cause : new MaxPayloadError(cause.message, this.maxPayload, { cause });
          queueMicrotask(() => onError(err));
        }
      }
    }
    hopRecorder?.(this.hop);
    if (this.flushed.length) {
      const flushed = this.flushed;
      this.flushed = [];
      // After nats.js's socket write: it writes on a microtask queued by the first publish above (or
      // earlier in this turn), so this one runs once the bytes are in the kernel. Told here, at the
      // hand-over, a pause before that write (GC) was counted into the paced sender's gap, and the next
      // frame followed at once (go-nodes.test.ts: 2 bursts of 30 read reordered on a quiet CI run).
      queueMicrotask(() => {
        for (const fn of flushed) fn();
      });
    }
  };
}
