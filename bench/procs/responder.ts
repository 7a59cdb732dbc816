/**
 * The responder process (TCP to NATS): an ION-compatible discovery registry, the demo node serving
 * demo.v1.EchoService over nats-grpc (what the gateway calls), and a raw NATS echo on `bench.echo`
 * (what the raw-NATS floor and the naive forwarder call).
 */
import { startDemoNode } from "../../src/demo/node.js";
import { startRegistry } from "../../src/discovery/index.js";
import { connectNats } from "../../src/runtime/node/nats-connect.js";
import { argv, serveCommands } from "../lib/child.js";

const a = argv();
const nc = await connectNats(a["nats"]!, { name: "bench-responder" });
const registry = await startRegistry(nc);
const node = await startDemoNode(nc, { nid: "demo-bench1", natsUrl: a["nats"] });
await node.registration.ready;
const raw = nc.subscribe("bench.echo", {
  callback: (err, msg) => {
    if (!err) msg.respond(msg.data);
  },
});
await nc.flush();

serveCommands(
  {
    memory: () => process.memoryUsage(),
  },
  { nid: node.nid },
  async () => {
    raw.unsubscribe();
    await node.close();
    await registry.stop();
    await nc.close();
  },
);
