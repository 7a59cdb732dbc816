// Load balancing and sticky placement through running gateways: 3 demo nodes and 2 gateway instances on
// one real nats-server with JetStream. Round-robin and P2C spread 10,000 calls evenly; 200 concurrent joins
// of one room through both gateways land on one node, and after it dies, on one survivor; a killed node
// stops receiving calls within discovery expiry, and nothing fails but with UNAVAILABLE meanwhile.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { EchoRequestSchema, EchoResponseSchema } from "../../../src/gen/demo/v1/echo_pb.js";
import { eventually } from "../../helpers/nats.js";
import { startStack, type Stack } from "../../helpers/gateway.js";

const body = (message: string) => toBinary(EchoRequestSchema, create(EchoRequestSchema, { message }));

/** One Connect unary Echo call; returns the serving node or the error code. */
async function echo(url: string, headers: Record<string, string> = {}): Promise<{ node?: string; code?: string; header?: string | null }> {
  const r = await fetch(`${url}/demo.v1.EchoService/Echo`, {
    method: "POST",
    headers: { "content-type": "application/proto", ...headers },
    body: body("x"),
  });
  const bytes = new Uint8Array(await r.arrayBuffer());
  if (r.status !== 200) return { code: JSON.parse(new TextDecoder().decode(bytes)).code };
  return { node: fromBinary(EchoResponseSchema, bytes).node, header: r.headers.get("x-edge-node") };
}

/** `n` calls with `concurrency` in flight; counts per node and per error code. */
async function spread(urls: string[], n: number, concurrency = 32, headers: Record<string, string> = {}) {
  const nodes = new Map<string, number>();
  const errors = new Map<string, number>();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      while (next < n) {
        next++;
        const r = await echo(urls[w % urls.length]!, headers);
        if (r.node) nodes.set(r.node, (nodes.get(r.node) ?? 0) + 1);
        else errors.set(r.code!, (errors.get(r.code!) ?? 0) + 1);
      }
    }),
  );
  return { nodes, errors };
}

function assertEven(counts: Map<string, number>, total: number, nodes: number) {
  assert.equal(counts.size, nodes, `all ${nodes} nodes served: ${JSON.stringify([...counts])}`);
  const even = total / nodes;
  for (const [nid, c] of counts) assert.ok(Math.abs(c - even) <= even * 0.1, `${nid} got ${c}, even is ${even}`);
}

async function withStack<T>(balancer: Record<string, unknown>, fn: (s: Stack) => Promise<T>): Promise<T> {
  const s = await startStack({ nodes: 3, gateways: 2, jetstream: true, config: { edge: { balancer } } });
  try {
    return await fn(s);
  } finally {
    await s.stop();
  }
}

describe("spreading", () => {
  for (const strategy of ["round_robin", "p2c"]) {
    test(`${strategy}: 10,000 calls through two gateways within ±10% of even`, () =>
      withStack({ default: strategy }, async (s) => {
        const { nodes, errors } = await spread(s.gateways.map((g) => g.url), 10_000);
        assert.equal(errors.size, 0, JSON.stringify([...errors]));
        assertEven(nodes, 10_000, 3);
      }));
  }
});

test("sticky rooms: one node for 200 concurrent joins through both gateways; one survivor after it dies", () =>
  withStack({ services: { demo: "sticky" } }, async (s) => {
    const join = (i: number) => echo(s.gateways[i % 2]!.url, { sid: "room-42" });
    const first = await Promise.all(Array.from({ length: 200 }, (_, i) => join(i)));
    const placed = new Set(first.map((r) => r.node));
    assert.deepEqual([...placed].length, 1, `one node for the room: ${[...placed]}`);
    const nid = first[0]!.node!;
    assert.ok(first.every((r) => r.header === nid), "x-edge-node names the serving node");

    // Other rooms spread over the nodes (sticky is per room, not global).
    const rooms = await Promise.all(Array.from({ length: 30 }, (_, i) => echo(s.url, { sid: `room-${i}` })));
    assert.ok(new Set(rooms.map((r) => r.node)).size >= 2, "rooms are spread over nodes");

    // Kill the room's node: no delete, its NATS connection gone.
    const victim = s.nodes.find((n) => n.node.nid === nid)!;
    victim.node.kill();
    await victim.nc.close();

    const after = await Promise.all(Array.from({ length: 200 }, (_, i) => join(i)));
    const errors = after.filter((r) => r.code);
    assert.ok(errors.every((r) => r.code === "unavailable"), `only UNAVAILABLE: ${JSON.stringify(errors)}`);
    const moved = new Set(after.filter((r) => r.node).map((r) => r.node));
    assert.equal(moved.size, 1, `one surviving node for the room: ${[...moved]}`);
    assert.ok(!moved.has(nid));
    // And it stays there.
    const again = await Promise.all(Array.from({ length: 50 }, (_, i) => join(i)));
    assert.deepEqual(new Set(again.map((r) => r.node)), moved);
  }));

test("a killed node stops receiving calls within discovery expiry; only UNAVAILABLE meanwhile", () =>
  withStack({ default: "round_robin" }, async (s) => {
    const victim = s.nodes[0]!;
    const urls = s.gateways.map((g) => g.url);
    let stop = false;
    const seen = { errors: new Map<string, number>(), calls: 0 };
    const load = (async () => {
      while (!stop) {
        const { errors } = await spread(urls, 64, 8);
        seen.calls += 64;
        for (const [c, n] of errors) seen.errors.set(c, (seen.errors.get(c) ?? 0) + n);
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    victim.node.kill();
    await victim.nc.close();
    await eventually(() => s.gateways.every((g) => !g.gateway.table.get(victim.node.nid)), 10_000, "node dropped from both tables");
    const dropMs = Date.now() - t0;
    stop = true;
    await load;
    for (const code of seen.errors.keys()) assert.equal(code, "unavailable", JSON.stringify([...seen.errors]));
    const { nodes, errors } = await spread(urls, 300, 16);
    assert.equal(errors.size, 0);
    assert.ok(!nodes.has(victim.node.nid));
    assert.equal(nodes.size, 2);
    console.log(`node dropped ${dropMs} ms after the kill; ${seen.calls} calls meanwhile, errors: ${JSON.stringify([...seen.errors])}`);
  }));
