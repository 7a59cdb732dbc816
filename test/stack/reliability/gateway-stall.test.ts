// Issue 16 row 2: a stalled gateway process must not lose its nodes. `edge-signal serve` runs as a
// child process; nats-server, the registry and two demo nodes live in this test process. The child is
// stopped (SIGSTOP) for 9 s — longer than the node table's 7 s expiry — and continued: its node table
// must not have dropped the nodes (no "node down" in its log), and calls work again within one
// keepalive period (2 s) of SIGCONT. Before the fix the sweep ran ahead of the queued keepalives,
// dropped every node, and nothing ever brought them back (UNAVAILABLE "no live node" for good).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startBackends, type Backends } from "../../helpers/gateway.js";
import { eventually } from "../../helpers/nats.js";
import { echoReq, echoRes } from "../../helpers/echo-schema.js";
import { runCli, servingGateway } from "../../helpers/cli.js";
import { summary } from "../../helpers/soak.js";

const keepaliveMs = 2_000;
let backends: Backends;

before(async () => {
  backends = await startBackends(2, "stall-test");
});
after(async () => {
  await backends.stop();
});

/** One Connect unary Echo; resolves to the answering node's id, or throws with the status. */
async function echo(url: string): Promise<string> {
  const res = await fetch(`${url}/demo.v1.EchoService/Echo`, { method: "POST", headers: { "content-type": "application/proto" }, body: echoReq("stall"), signal: AbortSignal.timeout(5000) });
  const body = new Uint8Array(await res.arrayBuffer());
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${new TextDecoder().decode(body)}`);
  return echoRes(body).node;
}

test("a gateway stopped for 9 s (SIGSTOP) keeps its nodes; calls work within one keepalive period of SIGCONT", { timeout: 90_000 }, async () => {
  const cli = runCli(["serve", "--nats", backends.nats.wsUrl, "--port", "0", "--host", "127.0.0.1"], { ...process.env, EDGE_SIGNAL_LOG_LEVEL: "info" });
  const { child } = cli;
  let mark = [0, 0];
  /** What the gateway wrote (stdout and stderr) since `mark`. */
  const since = () => cli.out().slice(mark[0]) + cli.err().slice(mark[1]);
  try {
    const url = await servingGateway(cli, 2);
    await echo(url);
    mark = [cli.out().length, cli.err().length];

    child.kill("SIGSTOP");
    await new Promise((r) => setTimeout(r, 9_000)); // the fault itself: 9 s without running
    child.kill("SIGCONT");
    const continued = Date.now();

    let failures = 0;
    let lastError = "";
    await eventually(async () => {
      try {
        return await echo(url);
      } catch (e) {
        failures++;
        lastError = String(e);
        return "";
      }
    }, keepaliveMs, "a call to work again within one keepalive period of SIGCONT").catch((e: Error) => {
      throw new Error(`${e.message}; ${failures} calls failed, the last with ${lastError}; gateway log since the stall:\n${since().slice(-2000)}`);
    });
    const recoveredMs = Date.now() - continued;
    const nodesAfter = (await (await fetch(`${url}/api/nodes`)).json()).services?.demo?.length ?? 0;
    const log = since();
    summary("gateway-stall", { stallMs: 9000, recoveredMs, failedCallsAfterCont: failures, demoNodesAfter: nodesAfter, nodesDown: [...log.matchAll(/"node down"[^\n]*?"service":"([^"]*)"/g)].map((m) => m[1]).join(",") || "none" });
    assert.equal(nodesAfter, 2, "both demo nodes are in the table after the stall");
    assert.doesNotMatch(log, /"node down"[^\n]*"service":"demo"/, "no demo node was dropped by the stall");
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
});
