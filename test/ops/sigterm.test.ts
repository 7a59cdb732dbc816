// A real SIGTERM to `edge-signal serve` during 100 open streams: every stream ends with a status
// (UNAVAILABLE), the backend streams are all cancelled (End{CANCELLED} reached the nodes), and the
// process exits 0. Nodes, registry and nats-server live in this test process; the gateway is a child.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import type { NatsConnection } from "@nats-io/nats-core";
import { startDemoNode, type DemoNode } from "../../src/demo/node.js";
import { startRegistry, type Registry } from "../../src/discovery/index.js";
import { EchoRequestSchema } from "../../src/gen/demo/v1/echo_pb.js";
import { connectNats } from "../../src/nats/connect-node.js";
import { runCli } from "../helpers/cli.js";
import { eventually, natsServer, type NatsServer } from "../helpers/nats.js";
import { openGrpcWs, type GrpcWsCall } from "../helpers/grpc-websockets-client.js";

let nats: NatsServer;
let nc: NatsConnection;
let registry: Registry;
const nodes: DemoNode[] = [];

before(async () => {
  nats = await natsServer();
  nc = await connectNats(nats.wsUrl, { name: "sigterm-test" });
  registry = await startRegistry(nc);
  for (let i = 0; i < 2; i++) nodes.push(await startDemoNode(nc, { natsUrl: nats.wsUrl }));
});
after(async () => {
  for (const n of nodes) await n.close();
  await registry.stop();
  await nc.close();
  await nats.stop();
});

test("SIGTERM during 100 open streams: all end with a status, no backend stream left, exit 0", { timeout: 60_000 }, async () => {
  const { child, out, err, exit: exited } = runCli(["serve", "--nats", nats.wsUrl, "--port", "0", "--host", "127.0.0.1"], { ...process.env, EDGE_SIGNAL_LOG_LEVEL: "warn" });
  try {
    const url: string = await eventually(() => /gateway\s+(http:\/\/[\d.]+:\d+)/.exec(out())?.[1] ?? "", 20_000, "gateway URL");
    await eventually(async () => {
      const r = await fetch(`${url}/api/nodes`);
      return ((await r.json()).services?.demo?.length ?? 0) === 2;
    }, 10_000, "nodes discovered");
    const calls: GrpcWsCall[] = [];
    for (let i = 0; i < 100; i++) calls.push(await openGrpcWs(`${url.replace("http", "ws")}/demo.v1.EchoService/EchoBidi`));
    for (const [i, c] of calls.entries()) c.send(toBinary(EchoRequestSchema, create(EchoRequestSchema, { message: `s${i}` })));
    await Promise.all(calls.map((c) => c.nextMessage()));
    const backend = () => nodes.reduce((n, d) => n + d.server.streamCount, 0);
    assert.equal(backend(), 100);

    child.kill("SIGTERM");
    const results = await Promise.all(calls.map((c) => c.done));
    for (const r of results) assert.equal(r.status, 14, "UNAVAILABLE");
    assert.equal(await exited, 0, err());
    await eventually(() => backend() === 0, 5000, "backend streams cancelled");
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
});
