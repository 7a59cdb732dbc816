/**
 * Rendezvous (highest random weight) hashing: every node gets a pseudo-random score for a key and
 * the highest score wins. Gateways that see the same live nodes agree without talking, and removing
 * a node moves only the keys that were on it (about 1/n of them). The placement fallback when
 * JetStream KV is unavailable.
 *
 * The hash is a fast, deterministic 32-bit mix (not cryptographic): stable across runtimes and
 * versions of this code, since gateways of one fleet must agree.
 */
import type { NodeInfo } from "../core/node-info.js";

/** Final avalanche of MurmurHash3 (a bijection on 32-bit integers). */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A seeded 32-bit hash of a string's UTF-16 code units. */
export function hash32(s: string, seed: number): number {
  let h = (seed ^ Math.imul(s.length, 0x9e3779b1)) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h = Math.imul(h ^ s.charCodeAt(i), 0x5bd1e995);
    h ^= h >>> 15;
  }
  return fmix32(h);
}

const SEED_KEY_A = 0x2545f491;
const SEED_KEY_B = 0x6c8e9cf5;
const SEED_NODE = 0x1b873593;

/** The score of node `nid` for a key whose two hashes are `ka`, `kb`. */
function score(ka: number, kb: number, nid: string): number {
  return fmix32(fmix32(ka ^ hash32(nid, SEED_NODE)) ^ kb);
}

/**
 * The node with the highest score for `key` among `nodes` minus `exclude`, or undefined if none.
 * Ejection is deliberately ignored: it is local to one gateway, and agreement matters more.
 * O(len(key) + n). Ties (astronomically rare) go to the smaller nid so the result never depends on order.
 */
export function rendezvousPick(
  key: string,
  nodes: readonly NodeInfo[],
  exclude?: ReadonlySet<string>,
): NodeInfo | undefined {
  const ka = hash32(key, SEED_KEY_A);
  const kb = hash32(key, SEED_KEY_B);
  let best: NodeInfo | undefined;
  let bestScore = -1;
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i]!;
    if (exclude !== undefined && exclude.has(n.nid)) continue;
    const s = score(ka, kb, n.nid);
    if (s > bestScore || (s === bestScore && best !== undefined && n.nid < best.nid)) {
      best = n;
      bestScore = s;
    }
  }
  return best;
}
