/**
 * A raw NATS spy on `nrpc.>` for stack tests (Node test process): records every message the gateway
 * publishes to nodes.
 */

import type { Msg, NatsConnection, Subscription } from "@nats-io/nats-core";
import { connectNats } from "../../src/runtime/node/nats-connect.js";
import { eventually, type NatsServer } from "./nats.js";

/** Records every message published on `nrpc.>` (what the gateway sends to nodes). */
export class NrpcSpy {
  readonly subjects: string[] = [];
  /** The reply subject (the call's inbox) of each message in {@link subjects}. */
  readonly replies: (string | undefined)[] = [];
  /** Inboxes of the control calls run by {@link settle}: their later envelopes are not news. */
  private readonly settled = new Set<string>();
  private constructor(
    private readonly nc: NatsConnection,
    private readonly sub: Subscription,
  ) {}

  static async start(nats: NatsServer): Promise<NrpcSpy> {
    const nc = await connectNats(nats.url, { name: "test-nrpc-spy" });
    let spy!: NrpcSpy;
    const sub = nc.subscribe("nrpc.>", {
      callback: (_e, m: Msg) => {
        spy.subjects.push(m.subject);
        spy.replies.push(m.reply);
      },
    });
    spy = new NrpcSpy(nc, sub);
    await nc.flush();
    return spy;
  }

  /** Index to compare against later (only safe when nothing was published just before). */
  mark(): number {
    return this.subjects.length;
  }

  /**
   * An index after everything the gateway published so far: runs `control` and waits for its subject.
   * The spy's own delivery lags the gateway; a plain `mark()` taken right after earlier calls can
   * count their late-delivered messages as new (seen in CI). The control call's own later envelopes
   * (its Data after its Call) may still arrive after the index: {@link between} skips them by inbox.
   */
  async settle(control: () => Promise<unknown>, controlSuffix: string): Promise<number> {
    const from = this.subjects.length;
    await control();
    return eventually(() => {
      const i = this.subjects.findIndex((s, j) => j >= from && s.endsWith(controlSuffix));
      if (i < 0) return 0;
      const reply = this.replies[i];
      if (reply !== undefined) this.settled.add(reply);
      return i + 1;
    }, 10_000, "control call on nrpc.>");
  }

  /**
   * Runs `control` (a call that does reach a node on a subject ending in `controlSuffix`) and returns
   * what was published on `nrpc.>` between `mark` and the control call's first message, leaving out
   * the envelopes of earlier control calls. The gateway publishes in order on one connection, so
   * anything an earlier call published arrives first.
   */
  async between(mark: number, control: () => Promise<unknown>, controlSuffix: string): Promise<string[]> {
    await control();
    const news = (j: number) => !this.settled.has(this.replies[j] ?? "");
    const at = await eventually(() => {
      const i = this.subjects.findIndex((s, j) => j >= mark && news(j) && s.endsWith(controlSuffix));
      return i >= 0 ? i + 1 : 0;
    }, 10_000, "control call on nrpc.>");
    const reply = this.replies[at - 1];
    if (reply !== undefined) this.settled.add(reply);
    return this.subjects.slice(mark, at - 1).filter((_s, k) => news(mark + k));
  }

  async close(): Promise<void> {
    this.sub.unsubscribe();
    await this.nc.close();
  }
}
