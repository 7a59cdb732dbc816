// /metrics: Prometheus counters move with calls; health endpoints answer.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startStack, type Stack } from "../../helpers/gateway.js";

let stack: Stack;
before(async () => {
  stack = await startStack({ nodes: 1 });
});
after(async () => {
  await stack.stop();
});

async function metric(name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${stack.url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : 0;
}

test("healthz and readyz", async () => {
  const h = await fetch(`${stack.url}/healthz`);
  assert.equal(h.status, 200);
  await h.text();
  const r = await fetch(`${stack.url}/readyz`);
  assert.equal(r.status, 200);
  await r.text();
});

test("call counters, bytes, node counts and NATS state move with calls", async () => {
  const okLabels = 'service="demo",method="Echo",protocol="connect",code="ok"';
  const errLabels = 'service="demo",method="Echo",protocol="connect",code="permission_denied"';
  const before = await metric("edge_signal_calls_total", okLabels);
  const beforeErr = await metric("edge_signal_calls_total", errLabels);
  for (let i = 0; i < 5; i++) {
    const r = await fetch(`${stack.url}/demo.v1.EchoService/Echo`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ message: `m${i}` }),
    });
    assert.equal(r.status, 200);
    await r.json();
  }
  const e = await fetch(`${stack.url}/demo.v1.EchoService/Echo`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ message: "error:7:nope" }),
  });
  assert.equal(e.status, 403);
  await e.text();
  assert.equal((await metric("edge_signal_calls_total", okLabels)) - before, 5);
  assert.equal((await metric("edge_signal_calls_total", errLabels)) - beforeErr, 1);
  const text = await (await fetch(`${stack.url}/metrics`)).text();
  assert.match(text, /edge_signal_discovery_nodes\{service="demo"\} 1/);
  assert.match(text, /edge_signal_nats_connected 1/);
  assert.match(text, /edge_signal_bytes_out_total [1-9]/);
  assert.match(text, /edge_signal_call_duration_seconds_count\{service="demo",protocol="connect"\} [1-9]/);
  assert.match(text, /edge_signal_calls_in_flight 0/);
});
