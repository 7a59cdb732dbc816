/**
 * startNatsServer tells a nats-server that cannot start (missing binary, or a process that exits) from
 * a port not ready yet by the error's class, not its wording: it fails at once with the reason instead
 * of polling until its 10 s readiness deadline and saying only "did not start".
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { natsServerMissing, startNatsServer } from "../../src/cli/nats-server.js";

test("a missing nats-server binary fails with how to install it, not with the readiness timeout", async () => {
  const t0 = performance.now();
  await assert.rejects(startNatsServer({ binary: "/nonexistent/edge-signal-test/nats-server" }), (e: Error) => {
    assert.equal(e.message, natsServerMissing);
    return true;
  });
  console.log(`rejected after ${(performance.now() - t0).toFixed(0)} ms`);
});

test("a nats-server that exits at once fails with its exit and stderr", async () => {
  await assert.rejects(startNatsServer({ extraConfig: "this is not a nats-server option {" }), (e: Error) => {
    assert.match(e.message, /^nats-server exited with \d+/);
    return true;
  });
});
