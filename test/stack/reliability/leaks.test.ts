/**
 * No leaks:
 * - a child process starts a full stack (JetStream sticky placement included), calls every protocol
 *   (OK, error, deadline, a client going away mid-stream), stops it and returns: it must exit by
 *   itself within a few seconds — no timer, socket or subscription may keep it alive;
 * - churn: 600 mixed calls (12,000 with EDGE_SIGNAL_SOAK=1) on every protocol (OK, backend errors, deadlines, clients that go away,
 *   malformed paths, unknown services, oversized messages) → the gateway's NATS subscriptions are the
 *   fixed set measured at start, no inbox token is left, every in-flight gauge is zero;
 * - a call cancelled in the same NATS batch as its request (End{CANCELLED} right behind the Data)
 *   leaves no timer running on the node.
 * (Every other file of this suite ends with the same leak check: leak-check.ts `assertNoLeaks`.)
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Code } from "@connectrpc/connect";
import type { NatsConnection } from "@nats-io/nats-core";
import { connectNats } from "../../../src/runtime/node/nats-connect.js";
import { encodeCall, encodeData, encodeRequestEnd } from "../../../src/nrpc/envelope.js";
import { startStack, type Stack } from "../../helpers/gateway.js";
import { eventually } from "../../helpers/nats.js";
import { echoReq } from "../../helpers/echo-schema.js";
import { assertNoLeaks, baseline, fixedSubscriptions, type Baseline } from "./leak-check.js";
import { budget, scaled, summary } from "../../helpers/soak.js";
import { rawCall, wireProtocols } from "./wire-call.js";

const CHURN = scaled(600, 20);

let stack: Stack;
let base: Baseline;
let nc: NatsConnection;

before(async () => {
  stack = await startStack({ nodes: 2, config: { edge: { max_message_bytes: 64 * 1024 } } });
  nc = await connectNats(stack.nats.wsUrl, { name: "test-raw-caller" });
  base = await baseline(stack);
});
after(async () => {
  await nc?.close();
  await stack?.stop();
});

const counts = { childExitMs: 0, churnCalls: 0, sameBatchCancels: 0 };

test("a process that starts and stops a full stack exits by itself", { timeout: 120_000 }, async () => {
  const script = fileURLToPath(new URL("./fixtures/stack-lifecycle.ts", import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", script], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  let stoppedAt = 0;
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (d: string) => {
    out += d;
    if (!stoppedAt && out.includes("stopped")) stoppedAt = Date.now();
  });
  const exit = await new Promise<{ code: number | null; after: number }>((resolve) => {
    const guard = setTimeout(() => child.kill("SIGKILL"), 90_000);
    child.once("exit", (code) => {
      clearTimeout(guard);
      resolve({ code, after: stoppedAt ? Date.now() - stoppedAt : -1 });
    });
  });
  assert.ok(out.includes("stopped"), `the child ran the stack (${out})`);
  assert.ok(!out.includes("handles:"), `nothing keeps the process alive after stop; still alive 3 s later with ${out.split("handles:")[1]?.trim()}`);
  assert.equal(exit.code, 0);
  counts.childExitMs = exit.after;
});

test(`churn: ${CHURN} mixed calls on every protocol leave no subscription, inbox or in-flight call behind`, { timeout: budget(120_000) }, async () => {
  const kinds: [string, string, Record<string, string>][] = [
    ["/demo.v1.EchoService/Echo", "ok", {}],
    ["/demo.v1.EchoService/Echo", "error:9:precondition", {}],
    ["/demo.v1.EchoService/Echo", "sleep:5000", { "grpc-timeout": "50m", "connect-timeout-ms": "50" }],
    ["/demo.v1.EchoService/Echo.x", "bad path", {}],
    ["/nope.v1.Nope/Echo", "unknown service", {}],
    ["/demo.v1.EchoService/Echo", "x".repeat(70 * 1024), {}],
    ["/demo.v1.EchoService/EchoStream", "header:x-a=b", {}],
    ["/demo.v1.EchoService/Echo", "sleep:20000", { "x-go-away": "1" }],
  ];
  const subsDuring: number[] = [];
  let i = 0;
  const one = async (p: (typeof wireProtocols)[number], path: string, msg: string, headers: Record<string, string>) => {
    const ac = new AbortController();
    if (headers["x-go-away"]) setTimeout(() => ac.abort(), 30 + (i % 40));
    const out = await rawCall(p, stack.url, p === "connect" ? path : path.replace("/Echo", "/EchoStream").replace("/EchoStreamStream", "/EchoStream"), echoReq(msg), headers, ac.signal).catch(() => undefined);
    counts.churnCalls++;
    return out;
  };
  while (counts.churnCalls < CHURN) {
    const batch: Promise<unknown>[] = [];
    for (const p of wireProtocols) {
      const [path, msg, headers] = kinds[i++ % kinds.length]!;
      batch.push(one(p, path, msg, headers));
    }
    await Promise.all(batch);
    if (i % 60 === 0) subsDuring.push((await fixedSubscriptions(stack)).fixed.length);
  }
  // No per-call subscription at any point.
  for (const n of subsDuring) assert.equal(n, base.subscriptions.length, "subscriptions stay the fixed set during the churn");
  await assertNoLeaks(stack, base, "after the churn");
  assert.ok(stack.nodes.every(({ node }) => node.server.streamCount === 0), "no stream left on the nodes");
});

test("a call cancelled right behind its request (one NATS batch) leaves no timer running on the node", { timeout: 60_000 }, async () => {
  const timers = () => (process as unknown as { getActiveResourcesInfo(): string[] }).getActiveResourcesInfo().filter((r) => r === "Timeout").length;
  const nid = stack.nodes[0]!.node.nid;
  const subject = `nrpc.${nid}.demo.v1.EchoService.EchoStream`;
  const before = timers();
  for (let k = 0; k < 100; k++) {
    const reply = `_INBOX.samebatch.${k}`;
    // Call, Data(sleep:60000), End{CANCELLED}: one flush, so the node reads them in one go.
    nc.publish(subject, encodeCall(subject, "test-raw-caller", undefined), { reply });
    nc.publish(subject, encodeData(echoReq("sleep:60000")), { reply });
    nc.publish(subject, encodeRequestEnd(Code.Canceled, "gone"), { reply });
    counts.sameBatchCancels++;
  }
  await nc.flush();
  await eventually(() => stack.nodes[0]!.node.server.streamCount === 0, 10_000, "streams cancelled");
  await new Promise((r) => setTimeout(r, 200));
  const grown = timers() - before;
  assert.ok(grown < 10, `${grown} timers left running by 100 cancelled sleeps`);
});

test("no leaks at the end of the leak suite", async () => {
  await assertNoLeaks(stack, base);
  summary("leaks", counts);
});
