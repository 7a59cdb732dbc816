/**
 * One wildcard inbox subscription per connection (`_INBOX.<nuid>.*`), demultiplexed by the last
 * token — what NATS clients do for requests. A call costs no subscribe/unsubscribe round trip, and Go
 * servers only key streams by the reply subject, so this is wire-compatible with nats-grpc.
 */
import { nuid, type Msg, type NatsConnection, type Subscription } from "@nats-io/nats-core";

/** Receives the messages of one inbox token. */
export type InboxHandler = (msg: Msg) => void;

/** A shared inbox: `register` gives each call its own reply subject on one subscription. */
export class InboxMux {
  /** `_INBOX.<nuid>.` */
  readonly prefix: string;
  private readonly handlers = new Map<string, InboxHandler>();
  private readonly sub: Subscription;
  private seq = 0;

  constructor(nc: NatsConnection, inboxPrefix = "_INBOX") {
    this.prefix = `${inboxPrefix}.${nuid.next()}.`;
    this.sub = nc.subscribe(`${this.prefix}*`, {
      callback: (err, msg) => {
        if (err) return;
        const h = this.handlers.get(msg.subject.slice(this.prefix.length));
        if (h) h(msg);
      },
    });
  }

  /** Registers a handler; returns its token (the reply subject is `prefix + token`). */
  register(handler: InboxHandler): string {
    const token = (++this.seq).toString(36);
    this.handlers.set(token, handler);
    return token;
  }

  /** Releases a token; later messages to it are dropped. */
  release(token: string): void {
    this.handlers.delete(token);
  }

  /** Number of live tokens (calls in flight). */
  get size(): number {
    return this.handlers.size;
  }

  /** Unsubscribes the shared subscription. */
  close(): void {
    this.handlers.clear();
    this.sub.unsubscribe();
  }
}
