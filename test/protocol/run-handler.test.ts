/**
 * Running the call handler (src/protocol/run-handler.ts), through handleConnect: a handler that returns
 * without ending the call, or throws, ends it with INTERNAL.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { handleConnect } from "../../src/protocol-connect/index.js";

test("a handler that returns without ending the call, or throws, ends it with INTERNAL", async () => {
  const r = await handleConnect(new Request("http://x/a.B/C", { method: "POST", headers: { "content-type": "application/proto" }, body: "" }), async () => {});
  assert.equal(r.status, 500);
  assert.match(((await r.json()) as { message: string }).message, /returned without ending/);
  const r2 = await handleConnect(new Request("http://x/a.B/C", { method: "POST", headers: { "content-type": "application/proto" }, body: "" }), async () => {
    throw new Error("boom");
  });
  assert.equal(r2.status, 500);
});
