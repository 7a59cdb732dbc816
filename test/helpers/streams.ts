/**
 * Request streams for tests (Node test process): an async iterable of fixed items, and one fed by
 * hand, for client-streaming and bidi calls (connect-es clients, the Director's `Call.requests`).
 */

/** Async iterable of `items`, optionally waiting between items. */
export async function* gen<T>(items: T[], gapMs = 0): AsyncIterable<T> {
  for (const i of items) {
    if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
    yield i;
  }
}

/** An async iterable fed by `push`, ended by `end` (interleaved bidi from connect-es clients). */
export function pushable<T>(): { iterable: AsyncIterable<T>; push(v: T): void; end(): void } {
  const items: T[] = [];
  let ended = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  return {
    iterable: {
      async *[Symbol.asyncIterator]() {
        for (;;) {
          if (items.length) yield items.shift()!;
          else if (ended) return;
          else await new Promise<void>((r) => (wake = r));
        }
      },
    },
    push(v) {
      items.push(v);
      notify();
    },
    end() {
      ended = true;
      notify();
    },
  };
}
