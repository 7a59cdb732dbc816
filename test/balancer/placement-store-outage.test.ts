// Sticky placement across a JetStream outage on a real nats-server (killed and restarted on the same
// store): a room first joined while KV is down goes where rendezvous hashing puts it, and stays there
// when KV is back — the gateway writes it to the bucket, so another gateway whose own choice would
// differ (its P2C avoids that node) finds it there.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { startNatsServer, type NatsServer } from "../../src/cli/nats-server.js";
import { createBalancer, openPlacementStore, parseBalancerConfig, placementKey, rendezvousPick, type PlacementStore } from "../../src/balancer/index.js";
import { eventually } from "../helpers/wait.js";
import { ctx, seeded } from "./fixtures.js";
import { node } from "../helpers/node-info.js";

const config = parseBalancerConfig({ services: { rtc: { strategy: "sticky" } }, placement: { retry_after_ms: 200, timeout_ms: 500 } });
const nodes = [node("sfu-a"), node("sfu-b"), node("sfu-c")];

let server: NatsServer;
const conns: NatsConnection[] = [];
before(async () => {
  server = await startNatsServer({ jetstream: true });
});
after(async () => {
  for (const nc of conns) await nc.close();
  await server?.stop();
});

test("a room first joined during a KV outage keeps its rendezvous node once KV is back, for every gateway", { timeout: 60_000 }, async () => {
  const open = async (name: string): Promise<PlacementStore> => {
    const nc = await connect({ servers: server.url, name, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    conns.push(nc);
    return (await openPlacementStore(nc, { ...config.placement }))!;
  };
  const [storeA, storeB] = [await open("gateway-a"), await open("gateway-b")];
  const errors: string[] = [];
  const a = createBalancer(config, { store: storeA, random: seeded(1), onError: (_e, c) => errors.push(c) });
  const b = createBalancer(config, { store: storeB, random: seeded(2) });
  // A room whose rendezvous node is sfu-a; gateway B's P2C avoids sfu-a (10 calls in flight there).
  const room = Array.from({ length: 100 }, (_, i) => `outage-${i}`).find((r) => rendezvousPick(r, nodes)?.nid === "sfu-a")!;
  for (let i = 0; i < 10; i++) b.onCallStart("sfu-a");

  await server.crash();
  const during = await a.pick("rtc", nodes, ctx({ sid: room }));
  assert.equal(during?.nid, "sfu-a", "placed by rendezvous hashing while KV is down");
  assert.ok(errors.some((c) => c.includes("rendezvous")), errors.join("; "));
  await server.restart();

  // Once A talks to KV again (any pick after retry_after_ms), the room is written with its node.
  await eventually(
    async () => {
      await a.pick("rtc", nodes, ctx({ sid: `probe-${Date.now()}` }));
      return (await storeA.get(placementKey("rtc", room)).catch(() => undefined))?.nid === "sfu-a";
    },
    20_000,
    "the outage placement written to the bucket",
  );
  assert.equal((await b.pick("rtc", nodes, ctx({ sid: room })))?.nid, "sfu-a", "gateway B finds it in the bucket instead of choosing its own");
  assert.equal((await a.pick("rtc", nodes, ctx({ sid: room })))?.nid, "sfu-a");
  for (let i = 0; i < 10; i++) b.onCallEnd("sfu-a", "ok");
  await a.close();
  await b.close();
});
