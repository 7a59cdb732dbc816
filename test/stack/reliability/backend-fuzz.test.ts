/**
 * Bad input from a backend, through the RUNNING gateway (fast-check): a hostile node answers each
 * call with a generated script of nats-grpc envelopes — Begin/End with hostile metadata (`grpc-status`,
 * `content-type`, `:status`, `connection`, CR/LF, NUL, non-ASCII, upper case, long values), Data with
 * random bytes, End codes out of range, status messages with CR/LF, `%` and unicode, garbage and
 * truncated envelopes, or no End at all — and a client calls it on every protocol. Every client gets a
 * well-formed response whose status is the one an independent decoder predicts (metadata can never
 * forge or hide the status), streaming clients get exactly the messages sent before the End, and the
 * gateway stays healthy and leak-free.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import fc from "fast-check";
import { DiscoveryClient, type KeepAliveHandle } from "../../../src/discovery/index.js";
import { ResponseSchema } from "../../../src/gen/nrpc/nrpc_pb.js";
import { connectNats } from "../../../src/runtime/node/nats-connect.js";
import { codeFromNumber } from "../../../src/nrpc/client.js";
import { decodeRequest, encodeData } from "../../../src/nrpc/envelope.js";
import { startStack, type Stack } from "../../helpers/gateway.js";
import { echoReq } from "../../helpers/echo-schema.js";
import { assertNoLeaks, baseline, type Baseline } from "./leak-check.js";
import { budget, scaled, summary } from "../../helpers/soak.js";
import { rawCall, wireProtocols, type WireName } from "./wire-call.js";

const CASES_PER_PROTOCOL = scaled(100);
const NO_END_DEADLINE_MS = 200;
const MAX_METADATA = 16 * 1024; // edge.max_metadata_bytes (the default)

let stack: Stack;
let base: Baseline;
let nc: NatsConnection;
let sub: Subscription;
let reg: KeepAliveHandle;
/** Scripts by `x-case`: the payloads the node publishes when that call arrives. */
const scripts = new Map<string, Uint8Array[]>();

before(async () => {
  stack = await startStack({ nodes: 1, config: { edge: { routes: { "fuzz.v1": "fuzz" } } } });
  nc = await connectNats(stack.nats.wsUrl, { name: "test-hostile-node" });
  sub = nc.subscribe("nrpc.hostile-node.fuzz.v1.EchoService.>", {
    callback: (_e, m) => {
      if (!m.reply) return;
      const req = decodeRequest(m.data);
      if (req.type.case !== "call") return;
      const id = req.type.value.metadata?.md["x-case"]?.values[0];
      for (const p of (id && scripts.get(id)) || []) nc.publish(m.reply, p);
    },
  });
  await nc.flush();
  reg = new DiscoveryClient(nc).keepAlive({ nid: "hostile-node", service: "fuzz", dc: "dc1", rpc: { protocol: "nats-grpc", addr: "", params: {} }, extraInfo: {}, source: "discovery", lastSeen: Date.now() });
  await reg.ready;
  await stack.waitForNodes(1, "fuzz");
  base = await baseline(stack);
});
after(async () => {
  await reg?.close().catch(() => {});
  sub?.unsubscribe();
  await nc?.close();
  await stack?.stop();
});

// ---------------------------------------------------------------------------------------------
// Scripts.

const hostileKey = fc.oneof(
  fc.constantFrom("grpc-status", "grpc-message", "content-type", "content-length", ":status", "connection", "transfer-encoding", "te", "upgrade", "set-cookie", "x-edge-node", "X-Upper", "x-a b", "x-a\r\nx-b", "", "__proto__", "access-control-allow-origin", "trailer-x", "x-bin-bin", "x-k-bin"),
  fc.string({ maxLength: 10 }),
);
const hostileValue = fc.oneof(
  fc.constantFrom("0", "13", "a\r\nx-injected: 1", "\0", "é", "%41", " padded ", "", "v".repeat(2000)),
  fc.string({ maxLength: 20 }),
  fc.string({ unit: "binary", maxLength: 6 }),
);
const md = fc.option(fc.dictionary(hostileKey, fc.array(hostileValue, { maxLength: 3 }), { maxKeys: 4 }).map((d) => ({ md: Object.fromEntries(Object.entries(d).map(([k, values]) => [k, { values }])) })), { nil: undefined });
const statusMessage = fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom("line1\r\nline2", "100%", "ünïcödé ✓", "\0", "x".repeat(5000), "%E2%9C%93"));
const step = fc.oneof(
  { weight: 2, arbitrary: md.map((header) => toBinary(ResponseSchema, create(ResponseSchema, { type: { case: "begin", value: { header, nid: "hostile-node" } } }))) },
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 100 }).map((d) => encodeData(d)) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 30 }) }, // garbage (possibly valid by chance)
);
const end = fc.record({
  status: fc.option(fc.record({ code: fc.oneof(fc.integer({ min: 0, max: 16 }), fc.constantFrom(-1, 17, 1000, 0x7fffffff)), message: statusMessage }), { nil: undefined }),
  trailer: md,
}).map(({ status, trailer }) => toBinary(ResponseSchema, create(ResponseSchema, { type: { case: "end", value: { status, trailer } } })));
/** A script: some steps, then usually an End (sometimes nothing more: the deadline ends the call). */
const script = fc.tuple(fc.array(step, { maxLength: 5 }), fc.option(end, { nil: undefined, freq: 12 })).map(([steps, e]) => (e ? [...steps, e] : steps));

/**
 * What the client must see: the status and messages an independent decoder predicts. Connect unary
 * carries exactly one message: a second one before the End fails the call INTERNAL; an OK End
 * without one fails it UNIMPLEMENTED "missing output message" (what connect-es and grpc-js say).
 */
function predict(payloads: Uint8Array[], unary: boolean): { code: number; messages: string[] } {
  const messages: string[] = [];
  for (const p of payloads) {
    let r;
    try {
      r = fromBinary(ResponseSchema, p);
    } catch {
      return { code: Code.Internal, messages: unary ? [] : messages };
    }
    // Header or trailer metadata over edge.max_metadata_bytes (key + value lengths) fails the call.
    const md = r.type.case === "begin" ? r.type.value.header : r.type.case === "end" ? r.type.value.trailer : undefined;
    if (md && mdBytes(md.md) > MAX_METADATA) return { code: Code.Internal, messages: unary ? [] : messages };
    if (r.type.case === "data") {
      if (unary && messages.length === 1) return { code: Code.Internal, messages: [] };
      messages.push(Buffer.from(r.type.value.data).toString("hex"));
    } else if (r.type.case === "end") {
      const st = r.type.value.status;
      const code = st && st.code !== 0 ? codeFromNumber(st.code) : 0;
      if (unary) return code === 0 && messages.length === 0 ? { code: Code.Unimplemented, messages: [] } : { code, messages: code === 0 ? messages : [] };
      return { code, messages };
    }
  }
  return { code: Code.DeadlineExceeded, messages: unary ? [] : messages };
}

const mdBytes = (md: Record<string, { values: string[] }>) => Object.entries(md).reduce((n, [k, v]) => n + v.values.reduce((m, x) => m + k.toLowerCase().length + x.length, 0), 0);

let seq = 0;
const outcomes = new Map<string, number>();

for (const p of wireProtocols) {
  test(`${p}: ${CASES_PER_PROTOCOL} hostile backend scripts → a well-formed response with the predicted status`, { timeout: budget(120_000) }, async () => {
    await fc.assert(
      fc.asyncProperty(script, async (payloads) => {
        const id = `bf-${++seq}`;
        scripts.set(id, payloads);
        const want = predict(payloads, p === "connect");
        const deadline = want.code === Code.DeadlineExceeded ? NO_END_DEADLINE_MS : 10_000;
        const headers: Record<string, string> = { "x-case": id, ...(p === "connect" || p === "connect-stream" ? { "connect-timeout-ms": String(deadline) } : { "grpc-timeout": `${deadline}m` }) };
        const out = await rawCall(p as WireName, stack.url, `/fuzz.v1.EchoService/${p === "connect" ? "Echo" : "EchoStream"}`, echoReq(id), headers);
        scripts.delete(id);
        const { code, messages } = want;
        assert.equal(out.code, code, `${p}: status (script ${payloads.map((x) => Buffer.from(x).toString("hex")).join(" ")}; got ${JSON.stringify({ ...out, data: undefined })})`);
        if (p === "grpc-websockets") assert.equal(out.close, 1000);
        assert.deepEqual((out.data ?? []).map((d) => Buffer.from(d).toString("hex")), messages, `${p}: messages`);
        outcomes.set(`${p}:${code}`, (outcomes.get(`${p}:${code}`) ?? 0) + 1);
      }),
      { numRuns: CASES_PER_PROTOCOL },
    );
  });
}

test("a backend sending oversized metadata (512 KiB of headers, of trailers, of status message): every client gets a proper status", { timeout: 60_000 }, async () => {
  const big = { md: { "x-big": { values: Array.from({ length: 256 }, () => "b".repeat(2048)) } } };
  const msg = new Uint8Array([0x0a, 1, 0x61]);
  const variants: Record<string, { payloads: Uint8Array[]; code: number; message: RegExp }> = {
    headers: {
      payloads: [toBinary(ResponseSchema, create(ResponseSchema, { type: { case: "begin", value: { header: big, nid: "hostile-node" } } })), encodeData(msg), toBinary(ResponseSchema, create(ResponseSchema, { type: { case: "end", value: {} } }))],
      code: Code.Internal,
      message: /response headers .* larger than the limit/,
    },
    trailers: {
      payloads: [encodeData(msg), toBinary(ResponseSchema, create(ResponseSchema, { type: { case: "end", value: { trailer: big } } }))],
      code: Code.Internal,
      message: /response trailers .* larger than the limit/,
    },
    "status message": {
      payloads: [toBinary(ResponseSchema, create(ResponseSchema, { type: { case: "end", value: { status: { code: Code.NotFound, message: "m".repeat(512 * 1024) } } } }))],
      code: Code.NotFound,
      message: /^m{4096}\.\.\.$/, // a quarter of the metadata limit
    },
  };
  for (const [what, v] of Object.entries(variants)) {
    for (const p of wireProtocols) {
      const id = `big-${++seq}`;
      scripts.set(id, v.payloads);
      const out = await rawCall(p, stack.url, `/fuzz.v1.EchoService/${p === "connect" ? "Echo" : "EchoStream"}`, echoReq(id), { "x-case": id, "grpc-timeout": "5S", "connect-timeout-ms": "5000" }).catch(
        (e: unknown) => ({ code: -2, message: String((e as { cause?: unknown }).cause ?? e), data: undefined }),
      );
      scripts.delete(id);
      assert.equal(out.code, v.code, `${what}, ${p}: ${JSON.stringify({ ...out, data: undefined }).slice(0, 200)}`);
      assert.match(out.message ?? "", v.message, `${what}, ${p}: status message`);
    }
  }
});

test("still healthy and leak-free after the hostile backend", async () => {
  const ok = await rawCall("connect", stack.url, "/demo.v1.EchoService/Echo", echoReq("fine"));
  assert.equal(ok.code, 0);
  await assertNoLeaks(stack, base);
  summary("backend-fuzz", { cases: seq, perProtocol: CASES_PER_PROTOCOL, protocols: wireProtocols.length, distinctOutcomes: outcomes.size });
});
