/** The shape shared by the spreading strategies (round-robin, random, power of two choices). */
import type { NodeInfo } from "../core/node-info.js";
import type { OutlierDetector } from "./outlier-detector.js";

/** Picks one usable node, or undefined when none is usable. Synchronous and allocation-free. */
export interface Strategy {
  /**
   * @param exclude nodes never to return.
   * @param outliers skip nodes it reports ejected; undefined in the panic pass (every node ejected).
   */
  pick(
    service: string,
    nodes: readonly NodeInfo[],
    exclude: ReadonlySet<string> | undefined,
    outliers: OutlierDetector | undefined,
  ): NodeInfo | undefined;
}
