/**
 * Node faults through the running gateway: a node that dies without a word (kill: no discovery delete,
 * still in the node table) must cost no call that never reached it — every such call is retried on a
 * live node, whatever its kind and however many request messages it had sent meanwhile.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "@connectrpc/connect";
import { EchoService } from "../../src/gen/demo/v1/echo_pb.js";
import { startStack, type Stack } from "../helpers/gateway.js";
import { matrixClients, type MatrixClients } from "../helpers/go-matrix.js";

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
