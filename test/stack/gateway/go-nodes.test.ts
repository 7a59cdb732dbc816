/**
 * Go ION nodes (cloudwebrtc/nats-grpc v1.0.0), through the running gateway: the protocol matrix
 * (Connect unary/server/client/bidi, gRPC-Web, native gRPC, grpc-websockets) against the Go-behaviour
 * model node (test/helpers/go-model-node.ts), once with the gateway's default sender (a node without
 * the `nrpc` marker in discovery gets the Go-compatible one) and once with it forced off for the
 * service, which must fail — the model is shown to bite.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { resolveConfig } from "../../../src/config/index.js";
import { EchoService } from "../../../src/gen/demo/v1/echo_pb.js";
import type { NatsConnection } from "@nats-io/nats-core";
import { connectNats } from "../../../src/runtime/node/nats-connect.js";
import { silentLogger } from "../../../src/observability/logger.js";
import { startNodeGateway, type NodeGateway } from "../../../src/runtime/node/index.js";
import { startStack, type Stack } from "../../helpers/gateway.js";
import { formatMatrix, matrixClients, runBursts, runSingleCalls, type BurstJudge, type BurstResults, type SingleResults } from "../../helpers/go-matrix.js";
import { startGoModelNode, startSenderTicks, type GoModelNode, type GoModelStats } from "../../helpers/go-model-node.js";
import { echoServiceIn } from "../../helpers/echo-schema.js";
import { eventually } from "../../helpers/nats.js";

let stack: Stack;
let model: GoModelNode;
/** The subject of the ticks the stack's gateway connection carries while its sender is judged. */
const gatewayTicks = "_gomodel.sender-tick";

before(async () => {
  // GO_FRAME_GAP_MS sets `edge.go_frame_gap_ms` for measuring the gap (README "Go ION nodes").
  const gap = process.env["GO_FRAME_GAP_MS"];
  stack = await startStack({ nodes: 0, config: gap ? { edge: { go_frame_gap_ms: Number(gap) } } : {} });
  model = await startGoModelNode({ natsUrl: stack.nats.url, senderTickSubject: gatewayTicks });
  await stack.waitForNodes(1);
});
after(async () => {
  await model?.close();
  await stack?.stop();
});

/** A second gateway on the same NATS, with `config` merged into the stack's. */
async function extraGateway(edge: Record<string, unknown>): Promise<{ gw: NodeGateway; nc: NatsConnection; close(): Promise<void> }> {
  const nc = await connectNats(stack.nats.url, { name: "test-gateway-extra" });
  const config = resolveConfig({ signal: { grpc: { host: "127.0.0.1", port: 0 } }, edge }, {});
  const gw = await startNodeGateway({ config, nc, log: silentLogger, processMetrics: false });
  await eventually(() => gw.gateway.table.nodes("demo").length === 1, 10_000, "the model node in the extra gateway's table");
  return {
    gw,
    nc,
    async close() {
      await gw.close(100);
      await nc.close();
    },
  };
}

/**
 * The protocol matrix through the gateway at `url`, whose NATS connection `gatewayNc` carries ticks to
 * the model node meanwhile (a hold on the NATS server's reading of it shows as a stall to the judge).
 */
async function matrix(url: string, gatewayNc: NatsConnection, calls: number, bursts: number, judge?: BurstJudge): Promise<{ single: SingleResults; burst: BurstResults; ms: number }> {
  const c = matrixClients(url);
  const stopTicks = startSenderTicks(gatewayNc, gatewayTicks);
  const t0 = performance.now();
  try {
    const single = await runSingleCalls(c, calls, 32);
    const burst = await runBursts(c, bursts, 20, false, judge);
    return { single, burst, ms: performance.now() - t0 };
  } finally {
    stopTicks();
    c.close();
  }
}

/**
 * Counts a burst unless the model node read frames of it together right as a stall on the way ended
 * (its thread not running, the NATS server holding its messages, or — with the gateway's ticks on —
 * the NATS server not reading the gateway's connection) that was as long as the sender's gap: frames
 * held by a stall arrive together and are reordered whatever the sender does — as with a starved Go
 * process — so such a burst says nothing about the sender and is run again. Frames read
 * together with no such stall came together from the sender: those bursts count. Panics and drops are
 * summed over the bursts that count.
 */
function scheduledNodeJudge(gapMs: number) {
  let before: GoModelStats | undefined;
  const j = {
    /** The counters before the first burst (after the single-request calls). */
    start: undefined as GoModelStats | undefined,
    panics: 0,
    /** Data dropped after closeSend (each leaves its burst incomplete). */
    dropped: 0,
    worstStallMs: 0,
    async before() {
      before = (await model.window()).stats;
      j.start ??= before;
    },
    async counts() {
      const w = await model.window();
      j.worstStallMs = Math.max(j.worstStallMs, w.coalescedStallMs);
      if (w.coalescedStallMs >= gapMs) return false;
      j.panics += w.stats.panics - before!.panics;
      j.dropped += w.stats.dropped - before!.dropped;
      return true;
    },
  };
  return j;
}

test("Go model node, default sender: 0 EOF in 2,000 calls, at least 29/30 bursts of 20 in order per cell, 0 panics", async () => {
  await model.reset();
  const gap = stack.config.goFrameGapMs;
  const judge = scheduledNodeJudge(gap);
  const r = await matrix(stack.url, stack.gatewayConns[0]!, 2000, 30, judge);
  const stats = await model.stats();
  const runs = Object.values(r.burst).reduce((n, v) => n + v.runs, 0);
  const inOrder = Object.values(r.burst).reduce((n, v) => n + v.inOrder, 0);
  const voided = Object.values(r.burst).reduce((n, v) => n + v.voided, 0);
  const voidedInOrder = Object.values(r.burst).reduce((n, v) => n + v.voidedInOrder, 0);
  console.log(
    `default sender, gap ${gap} ms (${r.ms.toFixed(0)} ms): bursts in order ${inOrder}/${runs}, ${voided} more voided (the node read frames together as a stall ≥ ${gap} ms ended; worst ${judge.worstStallMs.toFixed(1)} ms); ` +
      `panics ${judge.panics}, dropped ${judge.dropped} in the bursts counted; all bursts run: ${inOrder + voidedInOrder}/${runs + voided} in order; model stats ${JSON.stringify(stats)}\n${formatMatrix(r.single, r.burst)}`,
  );
  for (const [cell, v] of Object.entries(r.single)) {
    assert.equal(v.eof, 0, `${cell}: EOF endings`);
    assert.equal(v.other, 0, `${cell}: other failures (${v.samples.join("; ")})`);
  }
  for (const [cell, v] of Object.entries(r.burst)) {
    assert.equal(v.runs, 30, `${cell}: 30 bursts during which the node ran (${v.voided} voided: the machine is too loaded)`);
    assert.ok(v.inOrder >= 29, `${cell}: bursts of 20 complete and in order ${v.inOrder}/${v.runs} (${v.samples.join("; ")})`);
  }
  assert.equal(stats.eof, 0, "EOF at the node");
  assert.deepEqual([judge.start?.panics, judge.start?.dropped], [0, 0], "Go panics and dropped data in the single-request calls (their End{} waits for the reply)");
  // A Data dropped after closeSend leaves its burst incomplete: counted above among the failed bursts.
  assert.equal(judge.panics, 0, "Go panics (send on closed channel)");
});

test("Go model node, Go-compatible sender forced off: the same matrix fails", async () => {
  const extra = await extraGateway({ go_nodes: { demo: "off" } });
  try {
    await model.reset();
    // Judged as the default sender is, the gateway's ticks included: the unpaced frames come together
    // with no stall on the way, so the judge voids nothing on their account and the bursts count (two
    // runs with the ticks: 69 and 70 of 70 counted, 18 and 16 in order).
    const judge = scheduledNodeJudge(stack.config.goFrameGapMs);
    const r = await matrix(extra.gw.url, extra.nc, 400, 10, judge);
    const stats = await model.stats();
    console.log(`sender forced off (${r.ms.toFixed(0)} ms), model stats ${JSON.stringify(stats)}\n${formatMatrix(r.single, r.burst)}`);
    const eof = Object.values(r.single).reduce((n, v) => n + v.eof, 0);
    assert.ok(eof >= 40, `every empty request message ends EOF (${eof})`);
    const runs = Object.values(r.burst).reduce((n, v) => n + v.runs, 0);
    const inOrder = Object.values(r.burst).reduce((n, v) => n + v.inOrder, 0);
    // Unpaced, nearly every read coalesces frames, so a stall somewhere on a loaded machine voids some.
    assert.ok(runs >= 35, `most bursts counted (${runs} of 70)`);
    assert.ok(inOrder < runs * 0.67, `most bursts arrive reordered or incomplete (${inOrder}/${runs} in order)`);
    assert.ok(stats.coalesced > runs * 21 * 0.25, `unpaced, the node reads frames together (${stats.coalesced} of ${runs * 21})`);
    assert.ok(stats.panics + stats.dropped > 0, `an End{} overtakes Data: panics ${stats.panics}, dropped ${stats.dropped}`);
  } finally {
    await extra.close();
  }
});

test("-bin metadata crosses NATS as the base64 text HTTP carries, both ways (a Go node cannot carry raw bytes in a proto string)", async () => {
  await model.reset();
  const c = matrixClients(stack.url);
  try {
    let header: Headers | undefined;
    let trailer: Headers | undefined;
    const r = await createClient(EchoService, c.connectH2).echo(
      { message: "header:x-a-bin=AAEC" },
      { headers: { "x-b-bin": "AQID", "x-c-bin": "AA==, /w==" }, onHeader: (h) => (header = h), onTrailer: (h) => (trailer = h) },
    );
    assert.equal(r.message, "header:x-a-bin=AAEC");
    const seen = (await model.metadataSeen()).find((m) => m.method === "Echo");
    const md = new Map(seen?.metadata);
    assert.deepEqual(md.get("x-b-bin"), ["AQID"], "the client's base64 text, as it came");
    assert.deepEqual(md.get("x-c-bin"), ["AA==", "/w=="], "comma-joined -bin values are separate values");
    assert.equal(header?.get("x-a-bin"), "AAEC", "the node's base64 text, unchanged");
    assert.equal(trailer?.get("x-a-bin-trailer"), "AAEC");
    // A Go stream handler gets no request metadata at all (spec §1.10): the model shows it.
    for await (const _ of createClient(EchoService, c.connectH2).echoStream({ message: "s" }, { headers: { "x-b-bin": "AQID" } }));
    const stream = (await model.metadataSeen()).find((m) => m.method === "EchoStream");
    assert.deepEqual(stream?.metadata, []);
  } finally {
    c.close();
  }
});

test("a service the live Go node does not serve ends UNIMPLEMENTED (its no-responders is not a dead node's)", async () => {
  const c = matrixClients(stack.url);
  try {
    // The node answered EchoService calls before, so the gateway knows it serves that one.
    await createClient(EchoService, c.connectH2).echo({ message: "hi" });
    for (const t of [c.connectH2, c.grpc, c.grpcWeb]) {
      await assert.rejects(createClient(echoServiceIn("demo.other"), t).echo({ message: "x" }), (e: ConnectError) => {
        assert.equal(e.code, Code.Unimplemented, e.message);
        return true;
      });
    }
    assert.equal(stack.gw.gateway.table.nodes("demo").length, 1, "the node is still listed");
    const r = await createClient(EchoService, c.connectH2).echo({ message: "still served" });
    assert.equal(r.message, "still served");
  } finally {
    c.close();
  }
});
