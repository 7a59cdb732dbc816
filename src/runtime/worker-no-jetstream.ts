/**
 * Stand-in for `@nats-io/jetstream` and `@nats-io/kv` in the trimmed Worker build (wrangler.toml
 * `[alias]`): the JetStream client is ~90 KB of the bundle and serves only the sticky balancer's
 * shared placement bucket. Without it, `openPlacementStore` gets the error below, logs it, and
 * sticky services place by rendezvous hashing (the same node for the same key on every gateway
 * that sees the same nodes; a key can move when nodes join). Remove the `[alias]` entries to ship
 * the real clients and keep placements in JetStream KV on Workers too.
 *
 * Exports exactly what src/balancer/placement-store.ts imports; a new import of anything else from
 * those packages fails the Worker build loudly instead of failing at run time.
 */

/** Thrown wherever JetStream would be used; `name` makes the placement store treat it as "JetStream missing". */
class JetStreamNotBundled extends Error {
  constructor() {
    super("JetStream KV is not bundled in this Worker build (wrangler.toml [alias]); sticky placement uses rendezvous hashing");
    this.name = "JetStreamNotEnabled";
  }
}

/** `@nats-io/jetstream`'s `jetstream()`: always throws {@link JetStreamNotBundled}. */
export function jetstream(..._args: unknown[]): never {
  throw new JetStreamNotBundled();
}

/** `@nats-io/kv`'s `Kvm`: cannot be constructed. */
export class Kvm {
  constructor(..._args: unknown[]) {
    throw new JetStreamNotBundled();
  }
}

/** `@nats-io/kv`'s `KvWatchInclude` (values as in the real package). */
export const KvWatchInclude = {
  LastValue: "",
  AllHistory: "history",
  UpdatesOnly: "updates",
} as const;
