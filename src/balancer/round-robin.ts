/** Round-robin: each service walks its live-node list in order, skipping unusable nodes. */
import type { NodeInfo } from "../core/node-info.js";
import { isUsable } from "./node-filter.js";
import type { OutlierDetector } from "./outlier-detector.js";
import type { Strategy } from "./strategy.js";

/** Creates a round-robin strategy with one cursor per service. */
export function createRoundRobin(): Strategy {
  const cursors = new Map<string, number>();
  return {
    pick(service: string, nodes: readonly NodeInfo[], exclude: ReadonlySet<string> | undefined, outliers: OutlierDetector | undefined) {
      const len = nodes.length;
      if (len === 0) return undefined;
      const start = (cursors.get(service) ?? 0) % len;
      for (let t = 0; t < len; t++) {
        const i = start + t < len ? start + t : start + t - len;
        const n = nodes[i]!;
        if (isUsable(n, exclude, outliers)) {
          cursors.set(service, i + 1);
          return n;
        }
      }
      return undefined;
    },
  };
}
