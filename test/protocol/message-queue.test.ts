/**
 * The request message queue (src/protocol/message-queue.ts): order, end, fail, overflow, return.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import { MessageQueue } from "../../src/protocol/index.js";
import { isCode } from "../helpers/codes.js";

test("message queue: order, end, fail, overflow, return", async () => {
  const q = new MessageQueue(1000);
  q.push(Uint8Array.of(1));
  const pending = (async () => {
    const out: number[] = [];
    for await (const m of q) out.push(m[0]!);
    return out;
  })();
  q.push(Uint8Array.of(2));
  await new Promise((r) => setTimeout(r, 1));
  q.push(Uint8Array.of(3));
  q.end();
  q.push(Uint8Array.of(4)); // ignored after end
  assert.deepEqual(await pending, [1, 2, 3]);
  const f = new MessageQueue(1000);
  const p = f.next();
  f.fail(new ConnectError("x", Code.Canceled));
  await assert.rejects(p, isCode(Code.Canceled));
  const o = new MessageQueue(200);
  assert.equal(o.push(new Uint8Array(100)), undefined);
  assert.ok(isCode(Code.ResourceExhausted)(o.push(new Uint8Array(100))));
  await assert.rejects(o.next(), isCode(Code.ResourceExhausted));
});
