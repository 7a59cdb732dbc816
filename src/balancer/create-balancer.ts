/** Composes strategies, pinning, sticky placement, in-flight accounting and outlier ejection. */
import type { NodeInfo } from "../discovery/node.js";
import type { BalancerConfig, SpreadStrategyName } from "./config.js";
import { InFlightCounter } from "./in-flight.js";
import { OutlierDetector } from "./outlier-detector.js";
import { pinnedNode } from "./pin-header.js";
import type { PlacementStore } from "./placement-store.js";
import { createPowerOfTwoChoices } from "./power-of-two-choices.js";
import { createRandom } from "./random.js";
import { createRoundRobin } from "./round-robin.js";
import { stickyKey } from "./sticky-key.js";
import { StickyPlacement } from "./sticky-placement.js";
import type { Strategy } from "./strategy.js";
import type { Balancer, CallOutcome, PickContext, PickResult } from "./types.js";

/** What a balancer needs from its surroundings; all optional. */
export interface BalancerDeps {
  /** Shared placement store (see `openPlacementStore`); without it sticky keys use rendezvous hashing. */
  store?: PlacementStore;
  /** Clock in ms (default `Date.now`). */
  now?: () => number;
  /** Uniform random in [0, 1) (default `Math.random`). */
  random?: () => number;
  /** Told about handled errors (KV failures, placement fallbacks). */
  onError?: (err: unknown, context: string) => void;
}

/**
 * Creates a {@link Balancer}. `pick` returns a node synchronously except when a sticky placement
 * must be read from or written to the store (first call for a room on this gateway, the placed
 * node went away, or the cached placement expired); then it returns a promise.
 */
export function createBalancer(config: BalancerConfig, deps: BalancerDeps = {}): Balancer {
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;
  const onError = deps.onError ?? (() => {});
  const inFlight = new InFlightCounter();
  const outliers = new OutlierDetector(config.ejection, now);
  const strategies: Record<SpreadStrategyName, Strategy> = {
    round_robin: createRoundRobin(),
    random: createRandom(random),
    p2c: createPowerOfTwoChoices((nid) => inFlight.get(nid), random, config.loadWeight),
  };

  /** Runs a strategy skipping ejected nodes; if that leaves none, ignores ejection (panic mode). */
  const spread = (
    strategy: Strategy,
    service: string,
    nodes: readonly NodeInfo[],
    exclude: ReadonlySet<string> | undefined,
  ): NodeInfo | undefined =>
    strategy.pick(service, nodes, exclude, outliers) ??
    (outliers.clean ? undefined : strategy.pick(service, nodes, exclude, undefined));

  const defaultStrategy = strategies[config.default];
  const sticky = new StickyPlacement(
    deps.store,
    (service, nodes, exclude) => spread(defaultStrategy, service, nodes, exclude),
    config.placement,
    now,
    onError,
  );

  return {
    pinHeader: config.pinHeader,
    pick(service: string, nodes: readonly NodeInfo[], ctx: PickContext): PickResult {
      const exclude = ctx.exclude !== undefined && ctx.exclude.size > 0 ? ctx.exclude : undefined;
      const svc = config.services.get(service);
      let strategy = defaultStrategy;
      if (svc !== undefined) {
        if (svc.strategy === "sticky") {
          const key = stickyKey(ctx, svc.key);
          if (key !== undefined) return sticky.pick(service, key, nodes, exclude);
        } else strategy = strategies[svc.strategy];
      }
      if (config.pinHeader !== "") {
        const pinned = pinnedNode(nodes, ctx.metadata, config.pinHeader, exclude, outliers);
        if (pinned !== undefined) return pinned;
      }
      return spread(strategy, service, nodes, exclude);
    },
    onCallStart(nid: string): void {
      inFlight.start(nid);
    },
    onCallEnd(nid: string, outcome: CallOutcome): void {
      inFlight.end(nid);
      outliers.record(nid, outcome);
    },
    inFlight(nid: string): number {
      return inFlight.get(nid);
    },
    isEjected(nid: string): boolean {
      return outliers.isEjected(nid);
    },
    close(): Promise<void> {
      return sticky.close();
    },
  };
}
