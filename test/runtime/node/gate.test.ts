/**
 * The Node entry's gate (src/runtime/node/gate.ts) on its own: which request targets are RPC paths
 * it may take. The gate against the app, request by request on a real stack, is
 * test/stack/gateway/node-fast-path.test.ts.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { isRpcPath } from "../../../src/runtime/node/gate.js";

test("the RPC path check", () => {
  for (const p of ["/a.B/C", "/demo.v1.EchoService/Echo", "/x/y", "/a:b/c@d", "/a/b~c"]) assert.ok(isRpcPath(p), p);
  for (const p of ["", "/", "/a", "/a/", "//b", "/a/b/", "/a/b/c", "/a/b?x", "/a/%62", "/./b", "/a/..", "/a\\b/c", "a/b", "/a b/c", "/a/b#f", "/ä/b"]) assert.ok(!isRpcPath(p), p);
});
