/**
 * The runtime suite on Cloudflare Workers: `wrangler dev` runs the Worker and its hub Durable Object
 * (wrangler.toml) in real workerd, NATS over the Worker's outbound WebSocket. Plus what only the
 * Worker build has: config TOML from a var, and sticky placement through the bundled JetStream KV
 * client, agreeing with a Node gateway on the same NATS room by room.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { placementKey } from "../../../src/balancer/placement-key.js";
import { resolveConfig } from "../../../src/config/index.js";
import { connectNats } from "../../../src/runtime/node/nats-connect.js";
import { silentLogger } from "../../../src/observability/logger.js";
import { startNodeGateway } from "../../../src/runtime/node/index.js";
import { eventually } from "../../helpers/nats.js";
import { startWorkerd, type RuntimeProcess } from "../../helpers/runtime-processes.js";
import { jwtKey, runtimeSuite } from "./suite.js";

const stickyConfig = `
[edge.balancer.services.demo]
strategy = "sticky"
key = ["metadata:x-room"]
`;

let worker: RuntimeProcess | undefined;

runtimeSuite(
  "Cloudflare Workers (wrangler dev, workerd)",
  async (_stack, env) => (worker = await startWorkerd({ ...env, EDGE_SIGNAL_CONFIG: stickyConfig })),
  {
    jetstream: true,
    more(ctx) {
      test("the Worker and a Node gateway place the same new rooms on the same nodes, through the JetStream KV bucket", { timeout: 90_000 }, async () => {
        // A Node gateway with the Worker's balancer config, on the same NATS.
        const nc = await connectNats(ctx.stack.nats.wsUrl, { name: "test-node-gateway-sticky" });
        const config = resolveConfig(
          {
            signal: { grpc: { host: "127.0.0.1", port: 0 }, jwt: { enabled: true, key: jwtKey } },
            edge: { balancer: { services: { demo: { strategy: "sticky", key: ["metadata:x-room"] } } } },
          },
          {},
        );
        const node = await startNodeGateway({ config, nc, log: silentLogger, processMetrics: false });
        const kvNc = await connectNats(ctx.stack.nats.wsUrl, { name: "test-kv-reader" });
        try {
          await eventually(() => node.gateway.table.nodes("demo").length === 2, 10_000, "the Node gateway sees both demo nodes");
          const join = async (url: string, room: string) => {
            const r = await fetch(`${url}/demo.v1.EchoService/Echo`, {
              method: "POST",
              headers: { "content-type": "application/json", authorization: `Bearer ${ctx.token}`, "x-room": room },
              body: JSON.stringify({ message: room }),
            });
            const body = await r.json();
            assert.equal(r.status, 200, JSON.stringify(body));
            return body.node as string;
          };
          const bucket = await new Kvm(jetstream(kvNc)).open("edge_signal_placement");
          const placed = new Map<string, string>();
          for (let i = 0; i < 12; i++) {
            const room = `mixed-room-${i}-${Date.now()}`;
            // New rooms, joined through both at once (each gateway races to place it), 4 joins each.
            const nodes = await Promise.all(Array.from({ length: 8 }, (_, j) => join(j % 2 ? ctx.target.url : node.url, room)));
            assert.equal(new Set(nodes).size, 1, `${room}: one node through the Worker and Node, got ${nodes.join(", ")}`);
            const e = await bucket.get(placementKey("demo", room));
            assert.ok(e, `${room}: placed in the bucket`);
            assert.equal(JSON.parse(e.string()).nid, nodes[0]);
            placed.set(room, nodes[0]!);
          }
          assert.equal(new Set(placed.values()).size, 2, `rooms spread over both nodes: ${JSON.stringify([...placed])}`);
          // A room placed by hand on the node rendezvous hashing would not pick for it is followed by the
          // Worker: it reads the bucket (a Worker hashing rooms would send some elsewhere).
          const nids = ctx.stack.nodes.map((n) => n.node.nid);
          for (const [room, nid] of [...placed].slice(0, 4)) {
            const other = nids.find((n) => n !== nid)!;
            const rev = (await bucket.get(placementKey("demo", room)))!.revision;
            await bucket.update(placementKey("demo", room), JSON.stringify({ nid: other }), rev);
            await eventually(async () => (await join(ctx.target.url, room)) === other && (await join(node.url, room)) === other, 10_000, `${room} followed to ${other}`);
          }
          assert.doesNotMatch(worker!.output(), /falling back to rendezvous|not bundled/, "the hub did not fall back to rendezvous hashing");
        } finally {
          await node.close(100);
          await nc.close();
          await kvNc.close();
        }
      });
    },
  },
);
