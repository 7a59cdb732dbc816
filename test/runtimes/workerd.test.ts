/**
 * The runtime suite on Cloudflare Workers: `wrangler dev` runs the Worker and its hub Durable Object
 * (wrangler.toml) in real workerd, NATS over the Worker's outbound WebSocket. Plus what only the
 * Worker build has: config TOML from a var, and sticky placement without the JetStream client
 * (wrangler.toml's [alias]) falling back to rendezvous hashing although the server has JetStream.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { EchoService } from "../../src/gen/demo/v1/echo_pb.js";
import { eventually } from "../helpers/nats.js";
import { startWorkerd, type RuntimeProcess } from "./processes.js";
import { runtimeSuite } from "./suite.js";

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
      test("sticky service without the bundled JetStream client: one node per room, by rendezvous", { timeout: 60_000 }, async () => {
        const client = (room: string) =>
          createClient(
            EchoService,
            createConnectTransport({
              baseUrl: ctx.target.url,
              httpVersion: "1.1",
              interceptors: [
                (next) => (req) => {
                  req.header.set("authorization", `Bearer ${ctx.token}`);
                  req.header.set("x-room", room);
                  return next(req);
                },
              ],
            }),
          );
        const nodesOf = async (room: string) => {
          const seen = new Set<string>();
          for (let i = 0; i < 6; i++) seen.add((await client(room).echo({ message: `${room} ${i}` })).node);
          return seen;
        };
        const rooms = ["room-a", "room-b", "room-c", "room-d", "room-e", "room-f"];
        for (const room of rooms) {
          const seen = await nodesOf(room);
          assert.equal(seen.size, 1, `${room} went to ${[...seen].join(", ")}`);
        }
        // The hub said why it is not using JetStream KV (nats-server has JetStream here).
        await eventually(() => worker!.output().includes("JetStream KV is not bundled in this Worker build"), 10_000, "the hub's placement-store warning");
      });
    },
  },
);
