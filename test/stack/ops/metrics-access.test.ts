// Issue 16 row 7: /metrics can be protected. With JWT on and `edge.metrics_token` set, /metrics wants
// `Authorization: Bearer <token>` (no header, a wrong token, or a user's JWT get 401); with
// `edge.metrics_listen` it is served on its own listener (token still applied) and the main port
// answers 404. Before the fix /metrics was readable by anyone on the main port, JWT or not.
import assert from "node:assert/strict";
import { test } from "node:test";
import { mintToken, parseAuthConfig } from "../../../src/auth/index.js";
import { createLogger } from "../../../src/observability/logger.js";
import { startStack } from "../../helpers/gateway.js";

const SECRET = "metrics-access-secret";
const METRICS_TOKEN = "scrape-3a8f0c1d9e";
const jwt = { enabled: true, key: SECRET };

async function get(url: string, authorization?: string): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(url, { headers: authorization ? { authorization } : {} });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

test("edge.metrics_token: /metrics on the main port wants the bearer token", { timeout: 60_000 }, async () => {
  const stack = await startStack({ nodes: 1, config: { signal: { jwt }, edge: { metrics_token: METRICS_TOKEN } } });
  try {
    const userJwt = await mintToken(parseAuthConfig(jwt), { uid: "u", services: ["demo", "edge"] });
    for (const [what, auth] of [["no header", undefined], ["a wrong token", "Bearer scrape-3a8f0c1d9f"], ["a prefix", `Bearer ${METRICS_TOKEN.slice(0, -1)}`], ["the token without Bearer", METRICS_TOKEN], ["a user's JWT", `Bearer ${userJwt}`]] as const) {
      const r = await get(stack.url + "/metrics", auth);
      assert.equal(r.status, 401, what);
      assert.match(r.headers.get("www-authenticate") ?? "", /^Bearer/, what);
      assert.doesNotMatch(r.text, /edge_signal_/, `${what}: nothing of the metrics`);
    }
    const ok = await get(stack.url + "/metrics", `Bearer ${METRICS_TOKEN}`);
    assert.equal(ok.status, 200);
    assert.match(ok.text, /^edge_signal_calls_in_flight 0$/m);
    assert.equal((await get(stack.url + "/metrics", `bearer  ${METRICS_TOKEN}`)).status, 200, "the scheme is case-insensitive");
    assert.equal((await get(stack.url + "/healthz")).status, 200, "health stays open");
    assert.equal((await get(stack.url + "/readyz")).status, 200);
  } finally {
    await stack.stop();
  }
});

test("edge.metrics_listen: /metrics on its own address (token still applied), 404 on the main port", { timeout: 60_000 }, async () => {
  const stack = await startStack({ nodes: 1, config: { signal: { jwt }, edge: { metrics_listen: "127.0.0.1:0", metrics_token: METRICS_TOKEN } } });
  try {
    const url = stack.gw.metricsUrl;
    assert.ok(url && url !== stack.url + "/metrics", `its own listener (${url})`);
    assert.equal((await get(stack.url + "/metrics", `Bearer ${METRICS_TOKEN}`)).status, 404, "not on the main port, even with the token");
    assert.equal((await get(url)).status, 401, "the listener wants the token too");
    const ok = await get(url, `Bearer ${METRICS_TOKEN}`);
    assert.equal(ok.status, 200);
    assert.match(ok.text, /^edge_signal_discovery_nodes\{service="demo"\} 1$/m);
    assert.equal((await get(url.replace(/\/metrics$/, "/api/nodes"), `Bearer ${METRICS_TOKEN}`)).status, 404, "only /metrics there");
  } finally {
    await stack.stop();
  }
  // The listener is closed with the gateway.
  await assert.rejects(fetch(stack.gw.metricsUrl!));
});

test("JWT on and /metrics left open: the gateway says so at start; with a token it does not", { timeout: 60_000 }, async () => {
  for (const [edge, warned] of [[{}, true], [{ metrics_token: METRICS_TOKEN }, false]] as const) {
    const lines: string[] = [];
    const stack = await startStack({ nodes: 1, config: { signal: { jwt }, edge }, log: createLogger("warn", (l) => lines.push(l)) });
    try {
      assert.equal(lines.some((l) => l.includes("/metrics is open")), warned, JSON.stringify(edge));
      assert.equal((await get(stack.url + "/metrics")).status, warned ? 200 : 401, "open as before unless protected");
    } finally {
      await stack.stop();
    }
  }
});
