// Graceful shutdown: the gateway stops being ready, refuses new calls, lets in-flight calls finish within
// the drain timeout, then ends the rest with a status (backend gets End{CANCELLED}) and leaves nothing open.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { EchoRequestSchema } from "../../../src/gen/demo/v1/echo_pb.js";
import { eventually } from "../../helpers/nats.js";
import { startStack, type Stack } from "../../helpers/gateway.js";
import { WsCall } from "../../helpers/grpc-websockets-client.js";

let stack: Stack;
before(async () => {
  stack = await startStack({ nodes: 2 });
});
after(async () => {
  await stack.stop();
});

const req = (message: string) => toBinary(EchoRequestSchema, create(EchoRequestSchema, { message }));

test("drain: 100 open streams end with a status, a short call finishes, nothing stays open", async () => {
  const url = `${stack.wsUrl}/demo.v1.EchoService/EchoBidi`;
  const calls: WsCall[] = [];
  for (let i = 0; i < 100; i++) calls.push(await new WsCall(url).start());
  for (const [i, c] of calls.entries()) c.send(req(`s${i}`));
  await Promise.all(calls.map((c) => c.nextMessage()));
  const backendStreams = () => stack.nodes.reduce((n, { node }) => n + node.server.streamCount, 0);
  assert.equal(backendStreams(), 100);
  assert.equal(stack.gw.gateway.director.inFlight, 100);

  // A unary call that takes 300 ms, started just before the drain: it may finish.
  const slow = fetch(`${stack.url}/demo.v1.EchoService/Echo`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ message: "sleep:300" }),
  });
  await eventually(() => stack.gw.gateway.director.inFlight === 101);

  const closing = stack.gw.gateway.close(1500);
  // Not ready any more, and new calls are refused with UNAVAILABLE.
  const ready = await fetch(`${stack.url}/readyz`);
  assert.equal(ready.status, 503);
  await ready.arrayBuffer();
  const refused = await fetch(`${stack.url}/demo.v1.EchoService/Echo`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ message: "late" }),
  });
  assert.equal(refused.status, 503);
  assert.equal((await refused.json()).code, "unavailable");

  const slowRes = await slow;
  assert.equal(slowRes.status, 200, "in-flight call finished during the drain");
  assert.equal((await slowRes.json()).message, "sleep:300");

  await closing;
  const results = await Promise.all(calls.map((c) => c.result()));
  for (const r of results) {
    assert.equal(r.code, 14, "each stream ended with UNAVAILABLE");
    assert.equal(r.close, 1000);
  }
  assert.equal(stack.gw.gateway.director.inFlight, 0);
  await eventually(() => backendStreams() === 0, 3000, "backend streams cancelled");
});
