// A real SIGTERM to `edge-signal serve` during 100 open streams: every stream ends with a status
// (UNAVAILABLE), the backend streams are all cancelled (End{CANCELLED} reached the nodes), and the
// process exits 0. Nodes, registry and nats-server live in this test process; the gateway is a child.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { EchoRequestSchema } from "../../../src/gen/demo/v1/echo_pb.js";
import { runCli, servingGateway } from "../../helpers/cli.js";
import { startBackends, type Backends } from "../../helpers/gateway.js";
import { eventually } from "../../helpers/nats.js";
import { WsCall } from "../../helpers/grpc-websockets-client.js";

let backends: Backends;

before(async () => {
  backends = await startBackends(2, "sigterm-test");
});
after(async () => {
  await backends.stop();
});

test("SIGTERM during 100 open streams: all end with a status, no backend stream left, exit 0", { timeout: 60_000 }, async () => {
  const cli = runCli(["serve", "--nats", backends.nats.wsUrl, "--port", "0", "--host", "127.0.0.1"], { ...process.env, EDGE_SIGNAL_LOG_LEVEL: "warn" });
  const { child, err, exit: exited } = cli;
  try {
    const url = await servingGateway(cli, 2);
    const calls: WsCall[] = [];
    for (let i = 0; i < 100; i++) calls.push(await new WsCall(`${url.replace("http", "ws")}/demo.v1.EchoService/EchoBidi`).start());
    for (const [i, c] of calls.entries()) c.send(toBinary(EchoRequestSchema, create(EchoRequestSchema, { message: `s${i}` })));
    await Promise.all(calls.map((c) => c.nextMessage()));
    const backend = () => backends.nodes.reduce((n, d) => n + d.server.streamCount, 0);
    assert.equal(backend(), 100);

    child.kill("SIGTERM");
    const results = await Promise.all(calls.map((c) => c.result()));
    for (const r of results) assert.equal(r.code, 14, "UNAVAILABLE");
    assert.equal(await exited, 0, err());
    await eventually(() => backend() === 0, 5000, "backend streams cancelled");
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
});
