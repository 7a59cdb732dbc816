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
import { connectNats } from "../../../src/runtime/node/nats-connect.js";
import { silentLogger } from "../../../src/observability/logger.js";
import { startNodeGateway, type NodeGateway } from "../../../src/runtime/node/index.js";
import { startStack, type Stack } from "../../helpers/gateway.js";
import { formatMatrix, matrixClients, runBursts, runSingleCalls, type BurstResults, type SingleResults } from "../../helpers/go-matrix.js";
import { startGoModelNode, type GoModelNode } from "../../helpers/go-model-node.js";
import { echoServiceIn } from "./helpers.js";
import { eventually } from "../../helpers/nats.js";

let stack: Stack;
let model: GoModelNode;

before(async () => {
  stack = await startStack({ nodes: 0 });
  model = await startGoModelNode({ natsUrl: stack.nats.url });
  await stack.waitForNodes(1);
});
after(async () => {
  await model?.close();
  await stack?.stop();
});

/** A second gateway on the same NATS, with `config` merged into the stack's. */
async function extraGateway(edge: Record<string, unknown>): Promise<{ gw: NodeGateway; close(): Promise<void> }> {
  const nc = await connectNats(stack.nats.url, { name: "test-gateway-extra" });
  const config = resolveConfig({ signal: { grpc: { host: "127.0.0.1", port: 0 } }, edge }, {});
  const gw = await startNodeGateway({ config, nc, log: silentLogger, processMetrics: false });
  await eventually(() => gw.gateway.table.nodes("demo").length === 1, 10_000, "the model node in the extra gateway's table");
  return {
    gw,
    async close() {
      await gw.close(100);
      await nc.close();
    },
  };
}

async function matrix(url: string, calls: number, bursts: number): Promise<{ single: SingleResults; burst: BurstResults; ms: number }> {
  const c = matrixClients(url);
  const t0 = performance.now();
  try {
    const single = await runSingleCalls(c, calls, 32);
    const burst = await runBursts(c, bursts);
    return { single, burst, ms: performance.now() - t0 };
  } finally {
    c.close();
  }
}

/**
 * Bursts that failed although the node read each of their frames on its own: the sender's fault.
 * A burst whose frames the node read together (its thread was not scheduled for longer than the gap,
 * as on a loaded CI machine) can be reordered whatever the sender does — a Go node does the same.
 */
async function senderFailures(r: BurstResults): Promise<string[]> {
  const coalesced = await model.coalescedStreams();
  return Object.values(r).flatMap((v) => v.failed.filter((f) => !coalesced.has(f)));
}

test("Go model node, default sender: 0 EOF in 2,000 calls, bursts of 20 in order, 0 panics", async () => {
  await model.reset();
  const r = await matrix(stack.url, 2000, 30);
  const stats = await model.stats();
  const coalesced = await model.coalescedStreams();
  const runs = Object.values(r.burst).reduce((n, v) => n + v.runs, 0);
  const inOrder = Object.values(r.burst).reduce((n, v) => n + v.inOrder, 0);
  console.log(`default sender (${r.ms.toFixed(0)} ms): bursts in order ${inOrder}/${runs}, ${coalesced.size} streams read coalesced by the node; model stats ${JSON.stringify(stats)}\n${formatMatrix(r.single, r.burst)}`);
  for (const [cell, v] of Object.entries(r.single)) {
    assert.equal(v.eof, 0, `${cell}: EOF endings`);
    assert.equal(v.other, 0, `${cell}: other failures (${v.samples.join("; ")})`);
  }
  assert.deepEqual(await senderFailures(r.burst), [], "every burst whose frames reached the node apart is complete and in order");
  // Not vacuous: the node read nearly every frame on its own (unpaced, most frames are read together).
  const burstFrames = runs * 21;
  assert.ok(stats.coalesced <= burstFrames * 0.25, `frames the node read together with an earlier one: ${stats.coalesced} of ${burstFrames}`);
  assert.equal(stats.eof, 0, "EOF at the node");
  assert.equal(stats.senderPanics, 0, "Go panics (send on closed channel) on streams the node read frame by frame");
  assert.equal(stats.senderDropped, 0, "data dropped after closeSend on streams the node read frame by frame");
});

test("Go model node, Go-compatible sender forced off: the same matrix fails", async () => {
  const extra = await extraGateway({ go_nodes: { demo: "off" } });
  try {
    await model.reset();
    const r = await matrix(extra.gw.url, 400, 10);
    const stats = await model.stats();
    console.log(`sender forced off (${r.ms.toFixed(0)} ms), model stats ${JSON.stringify(stats)}\n${formatMatrix(r.single, r.burst)}`);
    const eof = Object.values(r.single).reduce((n, v) => n + v.eof, 0);
    assert.ok(eof >= 40, `every empty request message ends EOF (${eof})`);
    const runs = Object.values(r.burst).reduce((n, v) => n + v.runs, 0);
    const inOrder = Object.values(r.burst).reduce((n, v) => n + v.inOrder, 0);
    assert.ok(inOrder < runs * 0.67, `most bursts arrive reordered or incomplete (${inOrder}/${runs} in order)`);
    assert.ok(stats.coalesced > runs * 21 * 0.25, `unpaced, the node reads frames together (${stats.coalesced} of ${runs * 21})`);
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
