/**
 * Allocation-free helpers that walk a live-node list skipping excluded and ejected nodes (and
 * `findNode`, which looks large frozen lists up in an index built once per list).
 * `outliers` undefined means "do not skip ejected nodes" (panic mode).
 */
import type { NodeInfo } from "../core/node-info.js";
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

/**
 * nid → node of frozen node lists (the NodeTable's `nodes(service)`, which it keeps until the table
 * changes; keepalives do not change it), built on the first lookup. A sticky pick checks that the
 * placed node is live on every call: scanning was 7 µs per call at 1,000 nodes and 72 µs at 10,000
 * (bench/results/discovery-scale-2026-12-07.md).
 */
const nidIndexes = new WeakMap<readonly NodeInfo[], Map<string, NodeInfo>>();

/** Shorter lists are scanned (no index to build); so are lists that are not frozen (they can change). */
const INDEX_FROM = 64;

/** The live node `nid`, unless it is excluded. Ejection is not considered here. */
export function findNode(
  nodes: readonly NodeInfo[],
  nid: string,
  exclude: ReadonlySet<string> | undefined,
): NodeInfo | undefined {
  if (exclude !== undefined && exclude.has(nid)) return undefined;
  if (nodes.length >= INDEX_FROM && Object.isFrozen(nodes)) {
    let index = nidIndexes.get(nodes);
    if (index === undefined) {
      index = new Map();
      for (const n of nodes) if (!index.has(n.nid)) index.set(n.nid, n);
      nidIndexes.set(nodes, index);
    }
    return index.get(nid);
  }
  for (let i = 0; i < nodes.length; i++) if (nodes[i]!.nid === nid) return nodes[i];
  return undefined;
}

/** A node's self-reported load (`extraInfo.load`), or 0 when absent or not a finite non-negative number. */
export function nodeLoad(n: NodeInfo): number {
  const l = n.extraInfo.load;
  return typeof l === "number" && Number.isFinite(l) && l > 0 ? l : 0;
}
