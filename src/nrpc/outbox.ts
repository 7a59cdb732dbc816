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
 */
import type { NatsConnection } from "@nats-io/nats-core";

type Defer = (fn: () => void) => void;

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
  private bytes = 0;
  private scheduled = false;

  constructor(private readonly nc: NatsConnection) {}

  /** Queues one message; it is published at the end of the current event-loop turn. */
  publish(subject: string, data: Uint8Array, reply?: string): void {
    this.subjects.push(subject);
    this.payloads.push(data);
    this.replies.push(reply);
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
    this.subjects = [];
    this.payloads = [];
    this.replies = [];
    this.bytes = 0;
    if (this.nc.isClosed()) return;
    for (let i = 0; i < n; i++) {
      const reply = replies[i];
      try {
        this.nc.publish(subjects[i]!, payloads[i]!, reply !== undefined ? { reply } : undefined);
      } catch {
        // closed or draining meanwhile: the calls are failed by the status watchers
      }
    }
  };
}
