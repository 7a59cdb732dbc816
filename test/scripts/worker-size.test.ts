/**
 * The runtime-neutral core: the Worker and Deno entries (everything reachable from src/gateway.ts)
 * bundle for workerd/browsers with no Node built-in and no Node global, and the Worker stays within
 * its gzip budget. The check itself is shown to catch a Node-only module. (The type check without
 * Node's types is test/tsconfig-neutral.test.ts.)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Metafile } from "esbuild";
import { buildWorker, nodeGlobalUses, workerBudgetKiB } from "../../scripts/worker-size.mjs";

test("the Worker entry bundles without Node built-ins or globals, within the gzip budget", { timeout: 120_000 }, async () => {
  const r = await buildWorker();
  assert.deepEqual(r.problems, []);
  assert.ok(r.ok);
  const inputs = Object.keys(r.metafile!.inputs);
  assert.ok(inputs.includes("src/gateway.ts"), "the gateway is in the Worker");
  assert.ok(!inputs.some((f) => f.includes("prom-client") || f.includes("@hono/node-server") || f.startsWith("src/runtime/node/")), "Node-only parts stay out");
  // Native gRPC (src/protocol-grpc/) is runtime-neutral since it is built on the seam: it is in the
  // bundle, and the neutral type check covers it; the dispatcher routes gRPC only for
  // HTTP/2 requests, which a fetch Request never says it is.
  assert.ok(inputs.some((f) => f.includes("node_modules/@nats-io/jetstream/")) && inputs.some((f) => f.includes("node_modules/@nats-io/kv/")), "the JetStream KV client is in (sticky placement shared with Node gateways)");
  assert.ok(r.gzipBytes! < workerBudgetKiB * 1024, `gzip ${(r.gzipBytes! / 1024).toFixed(1)} KiB > ${workerBudgetKiB} KiB`);
});

test("the Deno entry is runtime-neutral too", { timeout: 120_000 }, async () => {
  const r = await buildWorker({ entry: "src/runtime/deno/index.ts", alias: false });
  assert.deepEqual(r.problems, []);
});

test("the check refuses Node-only code: built-ins in the bundle, Node globals in our sources", { timeout: 120_000 }, async () => {
  const r = await buildWorker({ entry: "src/runtime/node/index.ts", alias: false });
  assert.equal(r.ok, false);
  assert.ok(r.problems.some((p) => /Node built-in "(node:)?(fs\/promises|http|http2|path)"/.test(p)), r.problems.join("\n"));
  const uses = nodeGlobalUses({ inputs: { "src/cli/main.ts": {} } } as unknown as Metafile);
  assert.ok(uses.some((u) => u.includes("process")), uses.join("\n"));
  assert.deepEqual(nodeGlobalUses({ inputs: { "src/gateway.ts": {}, "src/protocol/envelope.ts": {} } } as unknown as Metafile), []);
});
