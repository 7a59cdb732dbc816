/** Uniform random choice among usable nodes. */
import type { NodeInfo } from "../core/node-info.js";
import { countUsable, isUsable, nthUsable, nothingToSkip } from "./node-filter.js";
import type { OutlierDetector } from "./outlier-detector.js";
import type { Strategy } from "./strategy.js";

/** Creates a random strategy; `random` returns a number in [0, 1). */
export function createRandom(random: () => number): Strategy {
  return {
    pick(_service: string, nodes: readonly NodeInfo[], exclude: ReadonlySet<string> | undefined, outliers: OutlierDetector | undefined) {
      const len = nodes.length;
      if (len === 0) return undefined;
      const first = nodes[Math.floor(random() * len)]!;
      if (nothingToSkip(exclude, outliers) || isUsable(first, exclude, outliers)) return first;
      const c = countUsable(nodes, exclude, outliers);
      return c === 0 ? undefined : nthUsable(nodes, Math.floor(random() * c), exclude, outliers);
    },
  };
}
