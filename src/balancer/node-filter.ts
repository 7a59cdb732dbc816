/**
 * Allocation-free helpers that walk a live-node list skipping excluded and ejected nodes.
 * `outliers` undefined means "do not skip ejected nodes" (panic mode).
 */
import type { NodeInfo } from "../discovery/node.js";
import type { OutlierDetector } from "./outlier-detector.js";

/** Whether `n` may be picked: not excluded and (when `outliers` is given) not ejected. */
export function isUsable(
  n: NodeInfo,
  exclude: ReadonlySet<string> | undefined,
  outliers: OutlierDetector | undefined,
): boolean {
  if (exclude !== undefined && exclude.has(n.nid)) return false;
  return outliers === undefined || !outliers.isEjected(n.nid);
}

/** True when nothing would be skipped, so a strategy can index `nodes` directly. */
export function nothingToSkip(exclude: ReadonlySet<string> | undefined, outliers: OutlierDetector | undefined): boolean {
  return (exclude === undefined || exclude.size === 0) && (outliers === undefined || outliers.clean);
}

/** Number of usable nodes. */
export function countUsable(
  nodes: readonly NodeInfo[],
  exclude: ReadonlySet<string> | undefined,
  outliers: OutlierDetector | undefined,
): number {
  let c = 0;
  for (let i = 0; i < nodes.length; i++) if (isUsable(nodes[i]!, exclude, outliers)) c++;
  return c;
}

/** The `k`-th (0-based) usable node. */
export function nthUsable(
  nodes: readonly NodeInfo[],
  k: number,
  exclude: ReadonlySet<string> | undefined,
  outliers: OutlierDetector | undefined,
): NodeInfo | undefined {
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i]!;
    if (isUsable(n, exclude, outliers) && k-- === 0) return n;
  }
  return undefined;
}

/** The live node `nid`, unless it is excluded. Ejection is not considered here. */
export function findNode(
  nodes: readonly NodeInfo[],
  nid: string,
  exclude: ReadonlySet<string> | undefined,
): NodeInfo | undefined {
  if (exclude !== undefined && exclude.has(nid)) return undefined;
  for (let i = 0; i < nodes.length; i++) if (nodes[i]!.nid === nid) return nodes[i];
  return undefined;
}

/** A node's self-reported load (`extraInfo.load`), or 0 when absent or not a finite non-negative number. */
export function nodeLoad(n: NodeInfo): number {
  const l = n.extraInfo.load;
  return typeof l === "number" && Number.isFinite(l) && l > 0 ? l : 0;
}
