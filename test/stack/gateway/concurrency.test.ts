/**
 * 1,000 concurrent unary calls through the running gateway (gRPC h2c, Connect over HTTP/1.1 and h2c,
 * gRPC-Web): every answer right, spread over the nodes, in-flight back to 0, and the gateway's NATS
 * connection holding the same subscriptions throughout (one shared inbox, no per-call subscription).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { EchoService } from "../../../src/gen/demo/v1/echo_pb.js";
import { startStack, type Stack } from "../../helpers/gateway.js";
import { eventually, subsOf } from "../../helpers/nats.js";

let stack: Stack;
let h2: Http2SessionManager;

/**
 * The gateway connection's lasting subscriptions. The NATS micro poller holds a one-shot `_INBOX.<id>`
 * for a short window every few seconds; that one is left out.
 */
async function lastingSubs(name: string): Promise<string[]> {
  const connz = await stack.nats.monitor("connz?subs=detail");
  const subs: string[] = [];
  for (const c of connz.connections ?? []) {
    if (c.name !== name) continue;
    for (const d of c.subscriptions_list_detail ?? []) subs.push(d.subject as string);
  }
  return subs.filter((s) => !/^_INBOX\.[^.]+$/.test(s)).sort();
}

before(async () => {
  stack = await startStack({ nodes: 2 });
  h2 = new Http2SessionManager(stack.url);
});
after(async () => {
  h2?.abort();
  await stack?.stop();
});

test("1,000 concurrent unary calls: all answered, in-flight 0 after, constant NATS subscriptions", { timeout: 120_000 }, async () => {
  const gwName = "test-gateway-0";
  const baseline = await lastingSubs(gwName);
  assert.ok(baseline.length > 0 && baseline.length < 10, baseline.join(", "));
  assert.ok((await subsOf(stack.nats, gwName)) <= baseline.length + 1);
  const clients = [
    createClient(EchoService, createGrpcTransport({ baseUrl: stack.url, sessionManager: h2 })),
    createClient(EchoService, createConnectTransport({ baseUrl: stack.url, httpVersion: "2", sessionManager: h2 })),
    createClient(EchoService, createGrpcWebTransport({ baseUrl: stack.url, httpVersion: "2", sessionManager: h2 })),
    createClient(EchoService, createConnectTransport({ baseUrl: stack.url, httpVersion: "1.1" })),
  ];
  const N = 1000;
  // Each call sleeps a little at the node so that they are all in flight together.
  const calls = Array.from({ length: N }, (_, i) => clients[i % clients.length]!.echo({ message: `sleep:400` }, { headers: { "x-i": String(i) } }).then((r) => r.node));
  await eventually(() => stack.gw.gateway.director.inFlight >= N / 2, 60_000, "many calls in flight");
  const during = await lastingSubs(gwName);
  const duringCount = await subsOf(stack.nats, gwName);
  const nodes = await Promise.all(calls);
  assert.equal(nodes.length, N);
  const perNode = new Map<string, number>();
  for (const n of nodes) perNode.set(n, (perNode.get(n) ?? 0) + 1);
  assert.deepEqual([...perNode.keys()].sort(), stack.nodes.map((n) => n.node.nid).sort(), "both nodes served");
  for (const [nid, n] of perNode) assert.ok(n > N / 10, `${nid} served ${n}`);
  await eventually(() => stack.gw.gateway.director.inFlight === 0 && stack.gw.gateway.stats.inFlight === 0, 10_000, "in-flight 0");
  assert.equal(stack.gw.gateway.client.inFlight, 0, "no nrpc stream left open");
  assert.deepEqual(during, baseline, "no per-call subscription while 500+ calls are in flight");
  assert.ok(duringCount <= baseline.length + 1, `${duringCount} subscriptions while 500+ calls are in flight`);
  assert.deepEqual(await lastingSubs(gwName), baseline, "the same subscriptions after");
  for (const { node } of stack.nodes) await eventually(() => node.server.streamCount === 0, 10_000, "node streams closed");
});
