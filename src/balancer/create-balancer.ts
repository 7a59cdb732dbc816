/** Composes strategies, pinning, sticky placement, in-flight accounting and outlier ejection. */
import type { Registry } from "@bufbuild/protobuf";
import type { NodeInfo } from "../core/node-info.js";
import { DEFAULT_MESSAGE_KEY, type BalancerConfig, type ServiceBalancing, type SpreadStrategyName } from "./config.js";
import { InFlightCounter } from "./in-flight.js";
import { messageKeyReaders, type MessageKeyReader } from "./message-field.js";
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
  /**
   * Schemas of the methods the gateway knows (compiled in, descriptor sets): sticky keys are read
   * from first request messages only with them. A configured message key whose method or field the
   * schemas lack throws (a default one for a method they lack is skipped).
   */
  schemas?: Registry;
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

  const readers = deps.schemas ? stickyMessageReaders(config, deps.schemas) : new Map<string, Map<string, MessageKeyReader>>();
  /** A sticky service's key for one call: claim, then metadata, then the first message's field. */
  const keyOf = (svc: ServiceBalancing, ctx: Pick<PickContext, "metadata" | "claims" | "messageKey">): string | undefined =>
    stickyKey(ctx, svc.key) ?? (ctx.messageKey !== "" ? ctx.messageKey : undefined);
  const readerOf = (service: string, method: string) => readers.get(service)?.get(method);

  const defaultStrategy = strategies[config.default];
  const sticky = new StickyPlacement({
    store: deps.store,
    choose: (service, nodes, exclude) => spread(defaultStrategy, service, nodes, exclude),
    config: config.placement,
    now,
    onError,
  });

  return {
    pinHeader: config.pinHeader,
    pick(service: string, nodes: readonly NodeInfo[], ctx: PickContext): PickResult {
      const exclude = ctx.exclude !== undefined && ctx.exclude.size > 0 ? ctx.exclude : undefined;
      const svc = config.services.get(service);
      let strategy = defaultStrategy;
      if (svc !== undefined) {
        if (svc.strategy === "sticky") {
          const key = keyOf(svc, ctx);
          if (key !== undefined) return sticky.pick(service, key, nodes, exclude);
        } else strategy = strategies[svc.strategy];
      }
      if (config.pinHeader !== "") {
        const pinned = pinnedNode(nodes, ctx.metadata, config.pinHeader, exclude, outliers);
        if (pinned !== undefined) return pinned;
      }
      return spread(strategy, service, nodes, exclude);
    },
    waitsForMessage(service, method, ctx): boolean {
      if (readerOf(service, method) === undefined) return false;
      return stickyKey(ctx, config.services.get(service)!.key) === undefined;
    },
    roomOf(service, ctx): string | undefined {
      const svc = config.services.get(service);
      return svc?.strategy === "sticky" ? keyOf(svc, ctx) : undefined;
    },
    messageKey(service, method, message): string | undefined {
      return readerOf(service, method)?.(message);
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

/**
 * The message key readers of every sticky service, by service and `pkg.Service/Method`. Throws (a
 * configuration error) for a configured key whose method or field the schemas lack; a default key for
 * a method they lack is skipped. The gateway calls it before connecting, to fail early.
 */
export function stickyMessageReaders(config: BalancerConfig, schemas: Registry): Map<string, Map<string, MessageKeyReader>> {
  const readers = new Map<string, Map<string, MessageKeyReader>>();
  for (const [name, svc] of config.services) {
    if (svc.strategy !== "sticky" || svc.messageKey.size === 0) continue;
    const keys = svc.messageKey === DEFAULT_MESSAGE_KEY ? knownMethods(svc.messageKey, schemas) : svc.messageKey;
    readers.set(name, messageKeyReaders(keys, schemas, `balancer.services.${name}.message_key`));
  }
  return readers;
}

/** The entries of `keys` whose method `schemas` knows. */
function knownMethods(keys: ReadonlyMap<string, string>, schemas: Registry): Map<string, string> {
  const out = new Map<string, string>();
  for (const [method, path] of keys) {
    const slash = method.lastIndexOf("/");
    if (schemas.getService(method.slice(0, slash))?.methods.some((m) => m.name === method.slice(slash + 1))) out.set(method, path);
  }
  return out;
}
