/**
 * Fault: backends that never answer. A black hole (an NrpcServer whose handlers never respond) and a
 * half-answering node (raw NATS: Begin and one Data, then silence) are called on every protocol:
 * - with a client deadline → the client gets DEADLINE_EXCEEDED and the backend End{DEADLINE_EXCEEDED}
 *   (its signal's reason code 4);
 * - without one → the gateway's `edge.default_timeout_ms` applies, same outcome;
 * - with one longer than `edge.max_timeout_ms` → clamped (the call ends long before the client's own
 *   deadline would);
 * - the half-answering node keeps publishing to the call's inbox after the deadline (a zombie): the
 *   gateway ignores it and holds no inbox for it.
 * (test/stack/gateway/deadlines-cancel.test.ts covers client deadlines against a sleeping node.)
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import { DiscoveryClient, type KeepAliveHandle } from "../../../src/discovery/index.js";
import { connectNats } from "../../../src/runtime/node/nats-connect.js";
import { decodeRequest, encodeBegin, encodeData, encodeResponseEnd } from "../../../src/nrpc/envelope.js";
import { NrpcServer, type ServerCall } from "../../../src/nrpc/index.js";
import { startStack, type Stack } from "../../helpers/gateway.js";
import { eventually } from "../../helpers/nats.js";
import { echoReq, echoRes } from "../../helpers/echo-schema.js";
import { assertNoLeaks, baseline, type Baseline } from "./leak-check.js";
import { rawCall, wireProtocols, type WireName } from "./wire-call.js";
import { summary } from "../../helpers/soak.js";
import { within } from "../../helpers/wait.js";

const DEFAULT_TIMEOUT_MS = 500;
const MAX_TIMEOUT_MS = 1000;

let stack: Stack;
let base: Baseline;
let holeNc: NatsConnection;
let hole: NrpcServer;
let halfNc: NatsConnection;
let halfSub: Subscription;
const regs: KeepAliveHandle[] = [];

/** Black-hole calls, by their `x-case` metadata: the abort reason the backend saw. */
const holeCalls = new Map<string, { method: string; reason?: unknown; aborted: Promise<void> }>();
/** Half-answering calls, by `x-case`: the status code of the End{status} the backend received. */
const halfCalls = new Map<string, { reply: string; endCode?: number }>();
const counts = { blackHoleCalls: 0, halfAnsweringCalls: 0, zombieMessages: 0 };

async function register(nc: NatsConnection, nid: string, service: string): Promise<void> {
  const reg = new DiscoveryClient(nc).keepAlive({ nid, service, dc: "dc1", rpc: { protocol: "nats-grpc", addr: "", params: {} }, extraInfo: {}, source: "discovery", lastSeen: Date.now() });
  regs.push(reg);
  await reg.ready;
}

before(async () => {
  stack = await startStack({
    nodes: 1,
    config: { edge: { routes: { "hole.v1": "hole", "half.v1": "half" }, default_timeout_ms: DEFAULT_TIMEOUT_MS, max_timeout_ms: MAX_TIMEOUT_MS } },
  });

  // The black hole: every method waits, forever, until the caller ends the stream.
  holeNc = await connectNats(stack.nats.wsUrl, { name: "test-black-hole" });
  hole = new NrpcServer(holeNc, { nid: "hole-node" });
  const never = (call: ServerCall) => {
    const id = call.metadata.get("x-case")?.[0] ?? "?";
    let done!: () => void;
    const rec = { method: call.method, reason: undefined as unknown, aborted: new Promise<void>((r) => (done = r)) };
    holeCalls.set(id, rec);
    return new Promise<void>((resolve) => {
      call.signal.addEventListener("abort", () => {
        rec.reason = call.signal.reason;
        done();
        resolve();
      }, { once: true });
    });
  };
  hole.register("hole.v1.EchoService", { Echo: never, EchoStream: never, EchoClientStream: never, EchoBidi: never });
  await holeNc.flush();
  await register(holeNc, "hole-node", "hole");

  // The half-answering node, on raw NATS: Begin + one Data, then nothing; records the End it gets.
  halfNc = await connectNats(stack.nats.wsUrl, { name: "test-half-node" });
  const byReply = new Map<string, string>();
  halfSub = halfNc.subscribe("nrpc.half-node.half.v1.EchoService.>", {
    callback: (_e, m) => {
      if (!m.reply) return;
      const req = decodeRequest(m.data);
      if (req.type.case === "call") {
        const md = req.type.value.metadata?.md ?? {};
        const id = md["x-case"]?.values[0] ?? "?";
        byReply.set(m.reply, id);
        halfCalls.set(id, { reply: m.reply });
        halfNc.publish(m.reply, encodeBegin(new Map([["x-half", ["1"]]]), "half-node"));
        halfNc.publish(m.reply, encodeData(new Uint8Array([0x0a, 4, 0x68, 0x61, 0x6c, 0x66]))); // EchoResponse{message:"half"}
      } else if (req.type.case === "end") {
        const id = byReply.get(m.reply);
        const c = id === undefined ? undefined : halfCalls.get(id);
        const st = req.type.value.status;
        if (c && st && c.endCode === undefined) c.endCode = st.code; // End{} without a status is the half-close
      }
    },
  });
  await halfNc.flush();
  await register(halfNc, "half-node", "half");
  await stack.waitForNodes(1, "hole");
  await stack.waitForNodes(1, "half");
  base = await baseline(stack);
});

after(async () => {
  for (const r of regs) await r.close().catch(() => {});
  hole?.close();
  halfSub?.unsubscribe();
  await holeNc?.close();
  await halfNc?.close();
  await stack?.stop();
});

let seq = 0;
const deadlineHeader = (p: WireName, ms: number): Record<string, string> => (p === "connect" || p === "connect-stream" ? { "connect-timeout-ms": String(ms) } : { "grpc-timeout": `${ms}m` });
const method = (p: WireName) => (p === "connect" ? "Echo" : "EchoStream");

/** Calls the black hole on `p`; returns the client's outcome and the backend's abort code. */
async function callHole(p: WireName, headers: Record<string, string>): Promise<{ client: number | undefined; backend: Code | undefined; ms: number }> {
  const id = `hole-${p}-${++seq}`;
  const t0 = Date.now();
  const out = await rawCall(p, stack.url, `/hole.v1.EchoService/${method(p)}`, echoReq(id), { "x-case": id, ...headers });
  const ms = Date.now() - t0;
  const rec = (await eventually(() => holeCalls.get(id), 10_000, `backend saw ${id}`))!;
  await within(rec.aborted, 10_000, `backend call ${id} ended`);
  counts.blackHoleCalls++;
  return { client: out.code, backend: rec.reason instanceof ConnectError ? rec.reason.code : undefined, ms };
}

test("client deadline against a black hole: DEADLINE_EXCEEDED at the client, End{DEADLINE_EXCEEDED} at the backend, every protocol", async () => {
  for (const p of wireProtocols) {
    const r = await callHole(p, deadlineHeader(p, 300));
    assert.equal(r.client, Code.DeadlineExceeded, `${p}: client`);
    assert.equal(r.backend, Code.DeadlineExceeded, `${p}: backend signal reason`);
  }
});

test("no client deadline: the gateway's default_timeout_ms ends the call, both ends see DEADLINE_EXCEEDED", async () => {
  for (const p of wireProtocols) {
    const r = await callHole(p, {});
    assert.equal(r.client, Code.DeadlineExceeded, `${p}: client`);
    assert.equal(r.backend, Code.DeadlineExceeded, `${p}: backend`);
  }
});

test("a client deadline above max_timeout_ms is clamped: the call ends long before the client's 60 s", async () => {
  for (const p of wireProtocols) {
    const r = await callHole(p, deadlineHeader(p, 60_000));
    assert.equal(r.client, Code.DeadlineExceeded, `${p}: client`);
    assert.equal(r.backend, Code.DeadlineExceeded, `${p}: backend`);
    assert.ok(r.ms < 30_000, `${p}: ended after ${r.ms} ms, not at the client's 60 s deadline`);
  }
});

test("half-answering node: header and one message arrive, then DEADLINE_EXCEEDED; the node gets End{4}; its zombie messages are ignored", async () => {
  for (const p of wireProtocols) {
    const id = `half-${p}-${++seq}`;
    const out = await rawCall(p, stack.url, `/half.v1.EchoService/${method(p)}`, echoReq(id), { "x-case": id, ...deadlineHeader(p, 400) });
    counts.halfAnsweringCalls++;
    assert.equal(out.code, Code.DeadlineExceeded, `${p}: client`);
    if (p !== "connect") assert.deepEqual(out.data?.map((d) => echoRes(d).message), ["half"], `${p}: the message sent before the silence arrived`);
    const c = (await eventually(() => (halfCalls.get(id)?.endCode !== undefined ? halfCalls.get(id) : undefined), 10_000, `End reached the node for ${id}`))!;
    assert.equal(c.endCode, Code.DeadlineExceeded, `${p}: the node got End{DEADLINE_EXCEEDED}`);
    // The zombie: it keeps answering on the released inbox.
    for (let i = 0; i < 50; i++) halfNc.publish(c.reply, encodeData(new Uint8Array([0x0a, 1, 0x7a])));
    halfNc.publish(c.reply, encodeResponseEnd(undefined, undefined));
    counts.zombieMessages += 51;
  }
  await halfNc.flush();
  // The gateway still serves, and holds nothing for the zombie.
  const ok = await rawCall("connect", stack.url, "/demo.v1.EchoService/Echo", echoReq("after zombies"));
  assert.equal(ok.code, 0);
  assert.equal(stack.gw.gateway.client.inFlight, 0);
});

test("no leaks after the black-hole suite (and the black hole holds no stream)", async () => {
  await assertNoLeaks(stack, base);
  await eventually(() => hole.streamCount === 0, 5000, "black-hole streams ended");
  summary("black-hole", { ...counts, protocols: wireProtocols.length });
});
