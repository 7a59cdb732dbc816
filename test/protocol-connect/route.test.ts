/**
 * Connect request classification (src/protocol-connect/route.ts) through handleConnect: GET refused per
 * path by allowGet, other HTTP methods 405.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { handleConnect } from "../../src/protocol-connect/index.js";

test("Connect: GET can be refused per path (405), other methods 405", async () => {
  const h = async () => {};
  const r = await handleConnect(new Request("http://x/a.B/C?encoding=proto&message="), h, { allowGet: (p) => p !== "/a.B/C" });
  assert.equal(r.status, 405);
  const r2 = await handleConnect(new Request("http://x/a.B/C", { method: "PUT", body: "" }), h);
  assert.equal(r2.status, 405);
});
