// W3C trace context: the browser's traceparent continues into the backend call (same trace id, a new
// span id for the gateway hop, tracestate kept), and a trace is started when none came in.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { NatsConnection } from "@nats-io/nats-core";
import { DiscoveryClient, type KeepAliveHandle } from "../../../src/discovery/index.js";
import { connectNats } from "../../../src/runtime/node/nats-connect.js";
import { NrpcServer } from "../../../src/nrpc/index.js";
import { startStack, type Stack } from "../../helpers/gateway.js";

let stack: Stack;
let nc: NatsConnection;
let server: NrpcServer;
let reg: KeepAliveHandle;
before(async () => {
  stack = await startStack({ nodes: 0, config: { edge: { routes: { "trace.v1": "trace" } } } });
  nc = await connectNats(stack.nats.wsUrl, { name: "trace-probe" });
  server = new NrpcServer(nc, { nid: "trace-1" });
  // Answers with the trace headers it received, as JSON bytes.
  server.register("trace.v1.Probe", {
    Get: async (call) => {
      for await (const _ of call.requests) break;
      call.send(new TextEncoder().encode(JSON.stringify({ traceparent: call.metadata.get("traceparent"), tracestate: call.metadata.get("tracestate") })));
    },
  });
  reg = new DiscoveryClient(nc).keepAlive({ nid: "trace-1", service: "trace", dc: "dc1", rpc: { protocol: "nats-grpc", addr: "", params: {} }, extraInfo: {}, source: "discovery", lastSeen: Date.now() });
  await reg.ready;
  await stack.waitForNodes(1, "trace");
});
after(async () => {
  server.close();
  await reg.close();
  await nc.close();
  await stack.stop();
});

async function probe(headers: Record<string, string>): Promise<{ traceparent?: string[]; tracestate?: string[] }> {
  const r = await fetch(`${stack.url}/trace.v1.Probe/Get`, { method: "POST", headers: { "content-type": "application/proto", ...headers }, body: new Uint8Array([8, 1]) });
  assert.equal(r.status, 200);
  return JSON.parse(new TextDecoder().decode(await r.arrayBuffer()));
}

test("an incoming traceparent continues with a new span id; tracestate is kept", async () => {
  const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const got = await probe({ traceparent: parent, tracestate: "vendor=abc" });
  const [v, trace, span, flags] = got.traceparent![0]!.split("-");
  assert.equal(v, "00");
  assert.equal(trace, "4bf92f3577b34da6a3ce929d0e0e4736");
  assert.match(span!, /^[0-9a-f]{16}$/);
  assert.notEqual(span, "00f067aa0ba902b7");
  assert.equal(flags, "01");
  assert.deepEqual(got.tracestate, ["vendor=abc"]);
});

test("no or invalid traceparent: a new trace is started, tracestate dropped", async () => {
  const a = await probe({});
  const b = await probe({ traceparent: "00-00000000000000000000000000000000-00f067aa0ba902b7-01", tracestate: "x=y" });
  for (const got of [a, b]) {
    assert.match(got.traceparent![0]!, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    assert.doesNotMatch(got.traceparent![0]!, /^00-0{32}-/);
    assert.equal(got.tracestate, undefined);
  }
  assert.notEqual(a.traceparent![0]!.split("-")[1], b.traceparent![0]!.split("-")[1], "each call its own trace");
});
