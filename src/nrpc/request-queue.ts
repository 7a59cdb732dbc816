/**
 * A small async queue of request messages for one server stream: the NATS read loop pushes
 * synchronously (in order), the handler pulls with `for await`. Bounded: overflowing it is an error
 * the server turns into RESOURCE_EXHAUSTED.
 */
export class RequestQueue implements AsyncIterable<Uint8Array> {
  private readonly items: Uint8Array[] = [];
  private head = 0;
  private done = false;
  private error: Error | undefined;
  private waiter: ((r: IteratorResult<Uint8Array>) => void) | undefined;
  private rejecter: ((e: Error) => void) | undefined;

  constructor(private readonly max = 1024) {}

  /** Adds a message; returns false if the queue is full (caller fails the stream). */
  push(item: Uint8Array): boolean {
    if (this.done) return true;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = this.rejecter = undefined;
      w({ value: item, done: false });
      return true;
    }
    if (this.items.length - this.head >= this.max) return false;
    this.items.push(item);
    return true;
  }

  /** No more messages (half-close). */
  end(): void {
    this.done = true;
    if (this.waiter && this.items.length === this.head) {
      const w = this.waiter;
      this.waiter = this.rejecter = undefined;
      w({ value: undefined, done: true });
    }
  }

  /** Fails pending and later reads. */
  fail(err: Error): void {
    if (this.error) return;
    this.error = err;
    this.done = true;
    this.items.length = this.head = 0;
    if (this.rejecter) {
      const r = this.rejecter;
      this.waiter = this.rejecter = undefined;
      r(err);
    }
  }

  /** Reads the next message. */
  next(): Promise<IteratorResult<Uint8Array>> {
    if (this.error) return Promise.reject(this.error);
    if (this.head < this.items.length) {
      const value = this.items[this.head]!;
      this.items[this.head++] = undefined as unknown as Uint8Array;
      if (this.head === this.items.length) this.items.length = this.head = 0;
      return Promise.resolve({ value, done: false });
    }
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiter = resolve;
      this.rejecter = reject;
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return { next: () => this.next() };
  }
}
