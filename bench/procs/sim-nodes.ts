/**
 * Benchmark process (bench/discovery-scale.ts): an ION-compatible registry and `--nodes` simulated
 * nodes in one process, on their own NATS connections. Each node speaks the real nats-discovery
 * keepalive — a gob `Request{Action: "save"}` on `node.publish.<svc>.<dc>.<nid>` at start, then
 * `Request{Action: "update"}` every `--period` ms (ION's 2 s, staggered) — but shares one connection
 * and one reply inbox with the others instead of a process each. Node only.
 */
import { createInbox } from "@nats-io/nats-core";
import { encodeRequest, publishSubject, startRegistry, type DiscoveryNode } from "../../src/discovery/index.js";
import { connectNats } from "../../src/runtime/node/nats-connect.js";
import { argv, serveCommands } from "../lib/child.js";

const a = argv();
const natsUrl = a.nats!;
const count = Number(a.nodes ?? 1000);
const period = Number(a.period ?? 2000);

const regNc = await connectNats(natsUrl, { name: "bench-registry" });
const registry = await startRegistry(regNc);
const nc = await connectNats(natsUrl, { name: "bench-sim-nodes" });

const nodes: { subject: string; save: Uint8Array; update: Uint8Array }[] = [];
for (let i = 0; i < count; i++) {
  const n: DiscoveryNode = {
    DC: "dc1",
    Service: "rtc",
    NID: `sim-${String(i).padStart(6, "0")}`,
    RPC: { Protocol: "nats-grpc", Addr: natsUrl, Params: null },
    ExtraInfo: null,
  };
  nodes.push({ subject: publishSubject(n), save: encodeRequest({ Action: "save", Node: n }), update: encodeRequest({ Action: "update", Node: n }) });
}

// One reply inbox for every node's requests: replies are counted, not awaited one by one.
const inbox = createInbox();
let replies = 0;
nc.subscribe(inbox, { callback: () => void replies++ });
let sent = 0;
for (let i = 0; i < nodes.length; i++) {
  nc.publish(nodes[i]!.subject, nodes[i]!.save, { reply: inbox });
  sent++;
  if (i % 500 === 499) await nc.flush();
}
await nc.flush();
const deadline = Date.now() + 60_000;
while (replies < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
if (replies < count) throw new Error(`registry answered ${replies} of ${count} saves`);

// Keepalives: every 20 ms, the next slice of nodes, so each node updates once per period.
const tickMs = 20;
const perTick = (count * tickMs) / period;
let cursor = 0;
let carry = 0;
const timer = setInterval(() => {
  carry += perTick;
  for (; carry >= 1; carry--) {
    const n = nodes[cursor]!;
    cursor = (cursor + 1) % nodes.length;
    nc.publish(n.subject, n.update, { reply: inbox });
    sent++;
  }
}, tickMs);

serveCommands(
  {
    stats: () => ({ sent, replies }),
  },
  { nodes: count, period },
  async () => {
    clearInterval(timer);
    await registry.stop();
    await nc.close();
    await regNc.close();
  },
);
