// findNode: the same answers from the nid index of a large frozen node list as from a scan, and lists
// that can change are not indexed (a later change is seen).
import assert from "node:assert/strict";
import { test } from "node:test";
import { findNode } from "../../src/balancer/node-filter.js";
import { node } from "../helpers/node-info.js";

test("findNode on a large frozen list (indexed) answers like a scan: found, excluded, unknown, first of duplicates", () => {
  const list = Object.freeze([...Array.from({ length: 500 }, (_, i) => node(`n-${i}`)), node("n-7", { dup: true })]);
  for (const i of [0, 7, 250, 499]) assert.equal(findNode(list, `n-${i}`, undefined), list[i]);
  assert.equal(findNode(list, "n-7", undefined)?.extraInfo.dup, undefined, "the first node with a nid wins, as in a scan");
  assert.equal(findNode(list, "n-250", new Set(["n-250"])), undefined);
  assert.equal(findNode(list, "n-250", new Set(["n-1"])), list[250]);
  assert.equal(findNode(list, "nope", undefined), undefined);
});

test("findNode on a list that is not frozen sees later changes (no index)", () => {
  const list = Array.from({ length: 500 }, (_, i) => node(`m-${i}`));
  assert.equal(findNode(list, "m-3", undefined), list[3]);
  list[3] = node("m-new");
  assert.equal(findNode(list, "m-3", undefined), undefined);
  assert.equal(findNode(list, "m-new", undefined), list[3]);
});
