/**
 * The leak check every stack-based reliability file ends with (Node test process): gateway-owned NATS
 * subscriptions back to the baseline measured at start, no inbox tokens, every in-flight gauge at zero.
 */
import assert from "node:assert/strict";
import type { Stack } from "../../helpers/gateway.js";
import { eventually } from "../../helpers/nats.js";

/** The subjects of the subscriptions nats-server holds for the stack's first gateway, sorted. */
export async function gatewaySubscriptions(stack: Stack, connName = "test-gateway-0"): Promise<string[]> {
  const connz = await stack.nats.monitor("connz?subs=1");
  const out: string[] = [];
  for (const c of connz.connections ?? []) if (c.name === connName) out.push(...((c.subscriptions_list as string[] | undefined) ?? []));
  return out.sort();
}

/**
 * NATS micro discovery polls with a short-lived reply inbox (`_INBOX.<nuid>`, unsubscribed after its
 * collection window): at most one exists at a time. Everything else is the fixed set.
 */
const isPollInbox = (s: string) => /^_INBOX\.[A-Za-z0-9]+$/.test(s);

/** The gateway's fixed subscriptions (without a micro poll window that happens to be open). */
export async function fixedSubscriptions(stack: Stack): Promise<{ fixed: string[]; pollInboxes: number }> {
  const all = await gatewaySubscriptions(stack);
  return { fixed: all.filter((s) => !isPollInbox(s)), pollInboxes: all.filter(isPollInbox).length };
}

/** `edge_signal_calls_in_flight` as /metrics reports it. */
export async function metricsInFlight(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith("edge_signal_calls_in_flight"));
  assert.ok(line, "edge_signal_calls_in_flight is exported");
  return Number(line.slice(line.lastIndexOf(" ") + 1));
}

/** What the leak check compares; taken once the stack is up (and after one warm-up call). */
export interface Baseline {
  readonly subscriptions: string[];
}

export async function baseline(stack: Stack): Promise<Baseline> {
  // Let subscriptions made at start-up settle on the server first.
  await stack.gw.gateway.client.nc.flush();
  return { subscriptions: (await fixedSubscriptions(stack)).fixed };
}

/**
 * The leak check: waits (bounded) until the gateway holds no call anywhere and its NATS subscriptions
 * are exactly the baseline, then asserts each count so that a failure names what leaked.
 */
export async function assertNoLeaks(stack: Stack, base: Baseline, what = "after the suite"): Promise<void> {
  const g = stack.gw.gateway;
  const state = async () => ({
    director: g.director.inFlight,
    stats: g.stats.inFlight,
    inboxes: g.client.inFlight,
    metrics: await metricsInFlight(stack.url),
    balancer: g.table.nodes("*").reduce((n, node) => n + g.balancer.inFlight(node.nid), 0),
    ...(await fixedSubscriptions(stack).then((s) => ({ subscriptions: s.fixed, pollInboxes: s.pollInboxes }))),
  });
  let last = await state();
  const clean = (s: typeof last) =>
    s.director === 0 && s.stats === 0 && s.inboxes === 0 && s.metrics === 0 && s.balancer === 0 && s.pollInboxes <= 1 && JSON.stringify(s.subscriptions) === JSON.stringify(base.subscriptions);
  await eventually(async () => clean((last = await state())), 15_000, `no leaks ${what}`).catch(() => {});
  assert.equal(last.director, 0, `director.inFlight ${what}`);
  assert.equal(last.stats, 0, `stats.inFlight ${what}`);
  assert.equal(last.inboxes, 0, `client.inFlight (inbox tokens) ${what}`);
  assert.equal(last.metrics, 0, `/metrics edge_signal_calls_in_flight ${what}`);
  assert.equal(last.balancer, 0, `balancer in-flight ${what}`);
  assert.deepEqual(last.subscriptions, base.subscriptions, `gateway NATS subscriptions back to the baseline ${what}`);
  assert.ok(last.pollInboxes <= 1, `at most one micro poll inbox open (${last.pollInboxes}) ${what}`);
}
