/**
 * Pinning by header. The Director sets `x-edge-node: <nid>` on every response; ion-sdk-js copies
 * response headers into the metadata of the calls the page starts afterwards (appending, so the key
 * may carry several values, or one comma-joined value, across services). A call that names a node
 * that is live for *this* service goes to it.
 */
import type { NodeInfo } from "../core/node-info.js";
import type { Metadata } from "../core/metadata.js";
import { findNode } from "./node-filter.js";
import type { OutlierDetector } from "./outlier-detector.js";

export { DEFAULT_PIN_HEADER } from "./config.js";

/**
 * The node a call is pinned to: the most recent value of `header` in `metadata` (last value first,
 * comma-separated parts last first) that names a node in `nodes` which is neither excluded nor
 * ejected. Undefined when the header is absent or names no usable node — the caller then balances
 * normally, so a stale or forged pin can only choose among live nodes of the service.
 */
export function pinnedNode(
  nodes: readonly NodeInfo[],
  metadata: Metadata,
  header: string,
  exclude: ReadonlySet<string> | undefined,
  outliers: OutlierDetector | undefined,
): NodeInfo | undefined {
  if (header === "") return undefined;
  const values = metadata.get(header);
  if (values === undefined) return undefined;
  for (let i = values.length - 1; i >= 0; i--) {
    const v = values[i]!;
    if (v.indexOf(",") < 0) {
      const n = usable(nodes, v.trim(), exclude, outliers);
      if (n !== undefined) return n;
      continue;
    }
    const parts = v.split(",");
    for (let j = parts.length - 1; j >= 0; j--) {
      const n = usable(nodes, parts[j]!.trim(), exclude, outliers);
      if (n !== undefined) return n;
    }
  }
  return undefined;
}

function usable(
  nodes: readonly NodeInfo[],
  nid: string,
  exclude: ReadonlySet<string> | undefined,
  outliers: OutlierDetector | undefined,
): NodeInfo | undefined {
  if (nid === "") return undefined;
  const n = findNode(nodes, nid, exclude);
  return n !== undefined && (outliers === undefined || !outliers.isEjected(nid)) ? n : undefined;
}
