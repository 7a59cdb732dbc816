// Issue 16 row 6: clients cannot grow /metrics. With JWT on, thousands of calls to unique method
// names — refused by auth, unknown to a service whose schema the gateway has (demo.v1), sent to a
// service without a schema and without a node (ghost.v1; rtc's schema is compiled in) — add no series: they are counted under `-` or
// `other`. A service without a schema (probe.v1 → probe) gets its methods named once they answer OK,
// at most `edge.metrics_max_methods` of them; the rest are `other`. Before the fix every refused call
// added a `method="<its name>"` series (62k calls: /metrics 12 KB → 8.8 MB).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import type { NatsConnection } from "@nats-io/nats-core";
import { mintToken, parseAuthConfig } from "../../../src/auth/index.js";
import { DiscoveryClient, type KeepAliveHandle } from "../../../src/discovery/index.js";
import { EchoResponseSchema } from "../../../src/gen/demo/v1/echo_pb.js";
import { connectNats } from "../../../src/runtime/node/nats-connect.js";
import { NrpcServer, type ServerCall } from "../../../src/nrpc/index.js";
import { startStack, type Stack } from "../../helpers/gateway.js";
import { echoReq } from "../../helpers/echo-schema.js";
import { scaled, summary } from "../../helpers/soak.js";

const SECRET = "metrics-labels-secret";
const MAX_METHODS = 3;
const UNIQUE = scaled(600); // calls per kind of refusal, each to a method name never used before (×10 with EDGE_SIGNAL_SOAK=1)
let stack: Stack;
let nc: NatsConnection;
let server: NrpcServer;
let reg: KeepAliveHandle;
let token: string;

before(async () => {
  stack = await startStack({
    nodes: 1,
    config: {
      signal: { jwt: { enabled: true, key: SECRET } },
      edge: { routes: { "probe.v1": "probe", "ghost.v1": "ghost" }, metrics_max_methods: MAX_METHODS },
    },
  });
  token = await mintToken(parseAuthConfig({ enabled: true, key: SECRET }), { uid: "u", services: ["demo", "probe", "ghost"] });
  // A node serving probe.v1.Svc/M0…M5: the gateway has no schema for it.
  nc = await connectNats(stack.nats.wsUrl, { name: "test-probe" });
  server = new NrpcServer(nc, { nid: "probe-1" });
  const reply = toBinary(EchoResponseSchema, create(EchoResponseSchema, { message: "ok", node: "probe-1" }));
  const answer = async (call: ServerCall) => {
    for await (const _ of call.requests) call.send(reply);
  };
  server.register("probe.v1.Svc", Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`M${i}`, answer])));
  await nc.flush();
  reg = new DiscoveryClient(nc).keepAlive({ nid: "probe-1", service: "probe", dc: "dc1", rpc: { protocol: "nats-grpc", addr: "", params: {} }, extraInfo: {}, source: "discovery", lastSeen: Date.now() });
  await reg.ready;
  await stack.waitForNodes(1, "probe");
});
after(async () => {
  await reg?.close().catch(() => {});
  server?.close();
  await nc?.close();
  await stack?.stop();
});

async function call(path: string, auth: boolean): Promise<number> {
  const res = await fetch(stack.url + path, {
    method: "POST",
    headers: { "content-type": "application/proto", ...(auth ? { authorization: `Bearer ${token}` } : {}) },
    body: echoReq("x"),
  });
  await res.arrayBuffer();
  return res.status;
}

/** Runs `n` calls, `width` at a time. */
async function many(n: number, width: number, one: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < n) await one(next++);
  }));
}

const metrics = async () => (await fetch(stack.url + "/metrics")).text();
const methodLabels = (text: string) => new Set([...text.matchAll(/^edge_signal_calls_total\{[^}]*method="([^"]*)"/gm)].map((m) => m[1]!));

test("thousands of refused calls to unique method names add no series; known methods are named, up to the cap", { timeout: 600_000 }, async () => {
  assert.equal(await call("/demo.v1.EchoService/Echo", true), 200);
  const before = await metrics();
  const statuses = new Map<string, Set<number>>();
  const note = (kind: string, s: number) => (statuses.get(kind) ?? statuses.set(kind, new Set()).get(kind)!).add(s);
  await many(UNIQUE, 16, async (i) => note("no token", await call(`/demo.v1.EchoService/NoToken${i}`, false)));
  await many(UNIQUE, 16, async (i) => note("unknown method of a known schema", await call(`/demo.v1.EchoService/Nope${i}`, true)));
  await many(UNIQUE, 16, async (i) => note("no schema, no node", await call(`/ghost.v1.Svc/Made${i}`, true)));
  await many(UNIQUE, 16, async (i) => note("unknown service", await call(`/zz${i}.S/M`, true)));
  for (let i = 0; i < 6; i++) note("probe (no schema, answers OK)", await call(`/probe.v1.Svc/M${i}`, true));
  const after = await metrics();

  for (const [kind, s] of statuses) {
    if (kind.startsWith("probe")) assert.deepEqual([...s], [200], kind);
    else assert.ok(![...s].includes(200), `${kind}: refused (${[...s].join(", ")})`);
  }
  const labels = methodLabels(after);
  const named = [...labels].filter((m) => m.startsWith("M"));
  summary("metrics-labels", {
    refusedUniqueCalls: UNIQUE * 4,
    metricsBytesBefore: before.length,
    metricsBytesAfter: after.length,
    callSeriesBefore: before.split("\n").filter((l) => l.startsWith("edge_signal_calls_total{")).length,
    callSeriesAfter: after.split("\n").filter((l) => l.startsWith("edge_signal_calls_total{")).length,
    methodLabels: labels.size > 12 ? `${labels.size} distinct` : [...labels].sort().join("/"),
  });
  for (const m of labels) assert.ok(["-", "other", "Echo", "M0", "M1", "M2", "M3", "M4", "M5"].includes(m), `method label ${JSON.stringify(m)} was not made up by a client`);
  assert.equal(named.length + 1, MAX_METHODS, `demo's Echo and probe methods named up to metrics_max_methods (${named.join(", ")})`);
  assert.ok(labels.has("other"), "the rest are counted under other");
  assert.ok(!/NoToken|Nope|Made|zz\d/.test(after), "no client-made name appears anywhere in /metrics");
  // Bounded whatever the number of calls: every new series is one of -/other × protocol × code, or a named probe method.
  const series = (t: string) => t.split("\n").filter((l) => /^edge_signal_calls_total\{/.test(l)).length;
  assert.ok(series(after) - series(before) <= 8 + MAX_METHODS, `${series(after) - series(before)} new call series for ${UNIQUE * 4 + 6} calls`);

  // The status page's counters (the runtime-neutral /metrics of Deno and Workers) use the same labels.
  const stats = await (await fetch(stack.url + "/api/stats", { headers: { authorization: `Bearer ${await mintToken(parseAuthConfig({ enabled: true, key: SECRET }), { uid: "ops", services: ["edge"] })}` } })).json();
  assert.deepEqual(stats.services.map((s: { service: string }) => s.service).sort(), ["demo", "ghost", "probe"], "only configured services have windows");
  for (const k of stack.gw.gateway.stats.calls.keys()) assert.ok(!/NoToken|Nope|Made|zz\d/.test(k), k);
});
