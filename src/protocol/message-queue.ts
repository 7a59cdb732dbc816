/**
 * A push-fed async iterable of request messages, for transports that deliver messages as events
 * (WebSocket). The consumer awaits; the transport pushes, ends or fails it.
 */
import { Code, ConnectError } from "@connectrpc/connect";

const doneResult: IteratorReturnResult<undefined> = { done: true, value: undefined };

/**
 * Request messages delivered by events. Memory is bounded: a push that would queue more than
 * `maxQueuedBytes` (each message counts its length plus 64) fails the queue with RESOURCE_EXHAUSTED
 * and returns that error, so the transport can end the call (a WebSocket cannot be paused portably).
 */
export class MessageQueue implements AsyncIterableIterator<Uint8Array> {
  private items: Uint8Array[] = [];
  private head = 0;
  private bytes = 0;
  private ended = false;
  private error: ConnectError | undefined;
  private waiting: { resolve: (r: IteratorResult<Uint8Array>) => void; reject: (e: unknown) => void } | undefined;

  constructor(private readonly maxQueuedBytes: number) {}

  /** Delivers a message. Returns an error when the queue overflowed (it is then failed). */
  push(data: Uint8Array): ConnectError | undefined {
    if (this.ended) return undefined;
    const w = this.waiting;
    if (w !== undefined) {
      this.waiting = undefined;
      w.resolve({ done: false, value: data });
      return undefined;
    }
    this.bytes += data.byteLength + 64;
    if (this.bytes > this.maxQueuedBytes) {
      const err = new ConnectError("client sends faster than the call consumes: request queue limit exceeded", Code.ResourceExhausted);
      this.fail(err);
      return err;
    }
    this.items.push(data);
    return undefined;
  }

  /** The client half-closed: iteration ends after the queued messages. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    const w = this.waiting;
    this.waiting = undefined;
    w?.resolve(doneResult);
  }

  /** The call failed: queued messages are dropped and the next read throws `err`. */
  fail(err: ConnectError): void {
    if (this.ended) return;
    this.ended = true;
    this.error = err;
    this.items = [];
    this.head = 0;
    const w = this.waiting;
    this.waiting = undefined;
    w?.reject(err);
  }

  /** Whether end() or fail() was called. */
  get isEnded(): boolean {
    return this.ended;
  }

  next(): Promise<IteratorResult<Uint8Array>> {
    if (this.head < this.items.length) {
      const value = this.items[this.head]!;
      this.items[this.head++] = undefined as unknown as Uint8Array;
      this.bytes -= value.byteLength + 64;
      if (this.head === this.items.length) {
        this.items = [];
        this.head = 0;
      } else if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
      return Promise.resolve({ done: false, value });
    }
    if (this.error !== undefined) return Promise.reject(this.error);
    if (this.ended) return Promise.resolve(doneResult);
    if (this.waiting !== undefined) return Promise.reject(new ConnectError("concurrent reads of the request stream", Code.Internal));
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
  }

  /** The consumer stopped reading: drop what is queued and ignore further pushes. */
  return(): Promise<IteratorResult<Uint8Array>> {
    if (!this.ended) {
      this.ended = true;
      this.items = [];
      this.head = 0;
    }
    return Promise.resolve(doneResult);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/** An async iterable of exactly one message (unary requests). */
export function singleMessage(message: Uint8Array): AsyncIterableIterator<Uint8Array> {
  let done = false;
  const it: AsyncIterableIterator<Uint8Array> = {
    next() {
      if (done) return Promise.resolve(doneResult);
      done = true;
      return Promise.resolve({ done: false, value: message });
    },
    return() {
      done = true;
      return Promise.resolve(doneResult);
    },
    [Symbol.asyncIterator]() {
      return it;
    },
  };
  return it;
}
