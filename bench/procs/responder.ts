/**
 * The responder process (TCP to NATS): an ION-compatible discovery registry, the demo node serving
 * demo.v1.EchoService over nats-grpc (what the gateway calls), and a raw NATS echo on `bench.echo`
 * (what the raw-NATS floor and the naive forwarder call). Commands: `memory`, `hopsOn` / `hopsGet` (the
 * demo node's part of the latency breakdown, see bench/lib/hops.ts).
 */
import { startDemoNode } from "../../src/demo/node.js";
import { startRegistry } from "../../src/discovery/index.js";
import { connectNats } from "../../src/runtime/node/nats-connect.js";
import { setHopRecorder } from "../../src/nrpc/bench-hooks.js";
import { argv, serveCommands } from "../lib/child.js";
import { HopLog, nodeHops } from "../lib/hops.js";

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

const hops = new HopLog(nodeHops);
serveCommands(
  {
    hopsOn: () => {
      hops.reset();
      setHopRecorder(hops.mark);
    },
    hopsGet: () => {
      setHopRecorder(undefined);
      return hops.summary();
    },
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
