// A nats-server restart is survived: while NATS is down calls fail fast with UNAVAILABLE (never hang),
// a stream open at the moment of the outage ends with UNAVAILABLE, and calls succeed again afterwards.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { EchoRequestSchema } from "../../../src/gen/demo/v1/echo_pb.js";
import { eventually } from "../../helpers/nats.js";
import { startStack, type Stack } from "../../helpers/gateway.js";
import { WsCall } from "../../helpers/grpc-websockets-client.js";

let stack: Stack;
before(async () => {
  stack = await startStack({ nodes: 1 });
});
after(async () => {
  await stack.stop();
});

const echo = (message: string) =>
  fetch(`${stack.url}/demo.v1.EchoService/Echo`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ message }),
  });

test("nats-server restart: fast UNAVAILABLE while down, service resumes after", async () => {
  const ok = await echo("before");
  assert.equal(ok.status, 200);
  await ok.json();

  const stream = await new WsCall(`${stack.wsUrl}/demo.v1.EchoService/EchoBidi`).start();
  stream.send(toBinary(EchoRequestSchema, create(EchoRequestSchema, { message: "open" })));
  await stream.nextMessage();

  // Stop nats-server (kill), keep it down for a moment.
  const proc = stack.nats.process;
  const gone = new Promise((r) => proc.once("exit", r));
  proc.kill("SIGKILL");
  await gone;

  const t0 = Date.now();
  const r = await stream.result();
  assert.equal(r.code, 14, "the open stream ended with UNAVAILABLE");
  assert.ok(Date.now() - t0 < 10_000);

  await eventually(async () => {
    const res = await fetch(`${stack.url}/readyz`);
    await res.text();
    return res.status === 503;
  }, 5000, "not ready while NATS is down");
  const down = await echo("while down");
  const downBody = await down.json();
  assert.equal(down.status, 503, JSON.stringify(downBody));
  assert.equal(downBody.code, "unavailable");

  await stack.nats.restart();
  await eventually(async () => {
    const res = await fetch(`${stack.url}/readyz`);
    await res.text();
    return res.status === 200;
  }, 15_000, "ready after reconnect");
  await stack.waitForNodes(1);
  let last = "";
  await eventually(async () => {
    const res = await echo("after");
    if (res.status !== 200) {
      last = await res.text();
      return false;
    }
    return (await res.json()).message === "after";
  }, 15_000, "calls succeed after the restart").catch((e) => {
    throw new Error(`${e.message}; last answer: ${last}`);
  });
});
