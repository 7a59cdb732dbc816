/**
 * Node faults through the running gateway: a node that dies without a word (kill: no discovery delete,
 * still in the node table) must cost no call that never reached it — every such call is retried on a
 * live node, whatever its kind and however many request messages it had sent meanwhile; a node that
 * restarts under the same nid ends its old process's calls UNAVAILABLE at once.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { EchoService } from "../../../src/gen/demo/v1/echo_pb.js";
import { startStack, type Stack } from "../../helpers/gateway.js";
import { matrixClients, type MatrixClients } from "../../helpers/go-matrix.js";
import { eventually } from "../../helpers/nats.js";

let stack: Stack;
let c: MatrixClients;

before(async () => {
  stack = await startStack({ nodes: 2 });
  c = matrixClients(stack.url);
});
after(async () => {
  c?.close();
  await stack?.stop();
});

test("a killed node still listed: every call that never reached it is retried on the live node", async () => {
  const dead = stack.nodes[0]!.node;
  const live = stack.nodes[1]!.node;
  dead.kill();
  assert.equal(stack.gw.gateway.table.nodes("demo").length, 2, "the dead node is still in the table");
  const client = createClient(EchoService, c.connectH2);
  const grpc = createClient(EchoService, c.grpc);
  async function* burst(n: number) {
    for (let i = 0; i < n; i++) yield { message: `m${i}` };
  }
  const want = Array.from({ length: 5 }, (_, i) => `m${i}`);
  const calls: Promise<string>[] = [];
  for (let i = 0; i < 30; i++) {
    calls.push(client.echo({ message: `u${i}` }).then((r) => `${r.node} ${r.message === `u${i}`}`));
    calls.push(client.echoClientStream(burst(5)).then((r) => `${r.node} ${r.message === want.join(" ")}`));
    calls.push(
      (async () => {
        const got: string[] = [];
        let node = "";
        for await (const r of grpc.echoBidi(burst(5))) {
          got.push(r.message);
          node = r.node;
        }
        return `${node} ${got.join(" ") === want.join(" ")}`;
      })(),
    );
  }
  const results = await Promise.allSettled(calls);
  const failed = results.flatMap((r) => (r.status === "rejected" ? [String(r.reason)] : []));
  assert.deepEqual(failed, [], `${failed.length} of ${results.length} calls failed`);
  for (const r of results) assert.equal((r as PromiseFulfilledResult<string>).value, `${live.nid} true`);
});

test("a node restarted under the same nid: its in-flight calls end UNAVAILABLE at once, new calls go to the new process", async () => {
  const s = await startStack({ nodes: 0 });
  const cc = matrixClients(s.url);
  try {
    const nid = "demo-restart";
    const old = await s.addNode({ nid });
    await s.waitForNodes(1);
    const client = createClient(EchoService, cc.connectH2);
    // Each call has its own deadline, far beyond the restart: without the restart check they hang until it.
    const inFlight = [client.echo({ message: "sleep:60000" }, { timeoutMs: 30_000 }), client.echo({ message: "sleep:60000" }, { timeoutMs: 30_000 })];
    await eventually(() => s.gw.gateway.director.inFlight === 2, 10_000, "two calls in flight");
    const gone = Promise.allSettled(inFlight);
    // The process dies without a word and a new one registers under the same nid.
    old.kill();
    const t0 = performance.now();
    await s.addNode({ nid });
    const results = await gone;
    console.log(`in-flight calls ended ${(performance.now() - t0).toFixed(0)} ms after the new process registered`);
    for (const r of results) {
      assert.equal(r.status, "rejected");
      const e = (r as PromiseRejectedResult).reason as ConnectError;
      assert.equal(e.code, Code.Unavailable, e.message);
    }
    assert.equal((await client.echo({ message: "after" })).node, nid);
  } finally {
    cc.close();
    await s.stop();
  }
});
