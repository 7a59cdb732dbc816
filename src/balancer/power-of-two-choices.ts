/**
 * Least in-flight by power of two choices (P2C): sample two distinct usable nodes at random and take
 * the one with the lower score, `inFlight(nid) + loadWeight * extraInfo.load`. O(1) when nothing is
 * excluded or ejected; otherwise one O(n) pass over the (small) node list. Ties go to the first sample.
 */
import type { NodeInfo } from "../core/node-info.js";
import { countUsable, nodeLoad, nothingToSkip, nthUsable } from "./node-filter.js";
import type { OutlierDetector } from "./outlier-detector.js";
import type { Strategy } from "./strategy.js";

/** Creates a P2C strategy reading live in-flight counts through `inFlight`. */
export function createPowerOfTwoChoices(
  inFlight: (nid: string) => number,
  random: () => number,
  loadWeight: number,
): Strategy {
  const score = (n: NodeInfo) => inFlight(n.nid) + (loadWeight === 0 ? 0 : loadWeight * nodeLoad(n));
  const better = (a: NodeInfo, b: NodeInfo) => (score(b) < score(a) ? b : a);
  return {
    pick(_service: string, nodes: readonly NodeInfo[], exclude: ReadonlySet<string> | undefined, outliers: OutlierDetector | undefined) {
      const len = nodes.length;
      if (nothingToSkip(exclude, outliers)) {
        if (len <= 1) return nodes[0];
        const i = Math.floor(random() * len);
        let j = Math.floor(random() * (len - 1));
        if (j >= i) j++;
        return better(nodes[i]!, nodes[j]!);
      }
      const c = countUsable(nodes, exclude, outliers);
      if (c <= 1) return c === 0 ? undefined : nthUsable(nodes, 0, exclude, outliers);
      const i = Math.floor(random() * c);
      let j = Math.floor(random() * (c - 1));
      if (j >= i) j++;
      return better(nthUsable(nodes, i, exclude, outliers)!, nthUsable(nodes, j, exclude, outliers)!);
    },
  };
}
