/**
 * Bad input from NATS, with fast-check, on a real nats-server:
 * - at the TS nats-grpc SERVER (a demo node): random bytes, mutated and hostile-but-valid `nrpc.Request`
 *   envelopes published to `nrpc.<nid>.demo.v1.EchoService.<method>` with reply subjects, in random
 *   sequences (Data before Call, two Calls, End then Data, out-of-range codes, odd metadata keys) →
 *   no crash, every reply the server sends is a well-formed `nrpc.Response` with a valid code, the
 *   server keeps serving, and every stream it opened can still be ended (streamCount back to 0);
 * - at the nats-grpc CLIENT (the one the gateway uses): random bytes, mutated and valid `nrpc.Response`
 *   envelopes published to a live call's inbox → the call ends exactly once, with the status an
 *   independent decoder (protobuf-es `fromBinary`) predicts, having delivered exactly the predicted
 *   messages; a malformed envelope sends End{INTERNAL} upstream; no inbox token is left.
 * (test/discovery/registry-fuzz.test.ts floods discovery subjects; this covers nrpc.)
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, type ConnectError } from "@connectrpc/connect";
import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import fc from "fast-check";
import { startDemoNode, type DemoNode } from "../../../src/demo/node.js";
import { EchoRequestSchema, EchoResponseSchema } from "../../../src/gen/demo/v1/echo_pb.js";
import { RequestSchema, ResponseSchema } from "../../../src/gen/nrpc/nrpc_pb.js";
import { connectNats } from "../../../src/runtime/node/nats-connect.js";
import { codeFromNumber, NrpcClient } from "../../../src/nrpc/client.js";
import { decodeRequest, encodeData, encodeRequestEnd } from "../../../src/nrpc/envelope.js";
import { eventually, natsServer, type NatsServer } from "../../helpers/nats.js";
import { budget, scaled, summary } from "../../helpers/soak.js";

const SERVER_CASES = scaled(10_000);
const CLIENT_CASES = scaled(10_000);
const BATCH = 50;

let nats: NatsServer;
let nodeNc: NatsConnection;
let node: DemoNode;
let fz: NatsConnection;
let clientNc: NatsConnection;
const NID = "fz-demo";
const processErrors: unknown[] = [];
const onError = (e: unknown) => processErrors.push(e);

before(async () => {
  process.on("uncaughtException", onError);
  process.on("unhandledRejection", onError);
  nats = await natsServer();
  nodeNc = await connectNats(nats.wsUrl, { name: "test-fuzz-node" });
  node = await startDemoNode(nodeNc, { nid: NID });
  fz = await connectNats(nats.wsUrl, { name: "test-fuzzer" });
  clientNc = await connectNats(nats.wsUrl, { name: "test-fuzz-client" });
});
after(async () => {
  process.off("uncaughtException", onError);
  process.off("unhandledRejection", onError);
  await node?.close();
  await nodeNc?.close();
  await fz?.close();
  await clientNc?.close();
  await nats?.stop();
});

// ---------------------------------------------------------------------------------------------
// Arbitraries shared by both directions.

const mdKey = fc.oneof(
  fc.constantFrom("x-a", "X-Upper", "nrpc.x", "nrpc.>", "*", "grpc-status", ":status", "content-length", "", "__proto__", "constructor", "a b", "k\r\nx"),
  fc.string({ maxLength: 12 }),
);
const mdValue = fc.oneof(fc.string({ maxLength: 24 }), fc.constantFrom("a\r\nb: c", "\0", "*", ">", " ", "..", "é"), fc.string({ unit: "binary", maxLength: 8 }));
const metadata = fc.option(fc.dictionary(mdKey, fc.array(mdValue, { maxLength: 3 }), { maxKeys: 4 }), { nil: undefined });
const wireMd = (md: Record<string, string[]> | undefined) => (md === undefined ? undefined : { md: Object.fromEntries(Object.entries(md).map(([k, values]) => [k, { values }])) });
const code = fc.oneof(fc.integer({ min: 0, max: 17 }), fc.constantFrom(-1, 99, 0x7fffffff, -0x80000000));
const status = fc.option(fc.record({ code, message: fc.string({ maxLength: 30 }) }), { nil: undefined });

/** A byte-level mutation of a valid envelope: flip, delete, insert, truncate, or duplicate a slice. */
const mutation = fc.record({ op: fc.constantFrom("flip", "del", "ins", "trunc", "dup"), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) });
function mutate(b: Uint8Array, ms: { op: string; at: number; byte: number }[]): Uint8Array {
  let out = Uint8Array.from(b);
  for (const m of ms) {
    const i = out.length ? m.at % out.length : 0;
    switch (m.op) {
      case "flip":
        if (out.length) out[i] = out[i]! ^ (1 << (m.byte & 7));
        break;
      case "del":
        out = Uint8Array.from([...out.subarray(0, i), ...out.subarray(i + 1)]);
        break;
      case "ins":
        out = Uint8Array.from([...out.subarray(0, i), m.byte, ...out.subarray(i)]);
        break;
      case "trunc":
        out = out.subarray(0, i);
        break;
      case "dup":
        out = Uint8Array.from([...out, ...out.subarray(i)]);
        break;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Server side.

const echoRequest = fc.oneof(
  fc.string({ maxLength: 20 }).filter((s) => !s.startsWith("sleep:")).map((message) => toBinary(EchoRequestSchema, create(EchoRequestSchema, { message, repeat: 2 }))),
  fc.uint8Array({ maxLength: 40 }),
);
const validRequest = fc.oneof(
  fc.record({ method: fc.string({ maxLength: 40 }), nid: fc.string({ maxLength: 12 }), md: metadata }).map(({ method, nid, md }) =>
    toBinary(RequestSchema, create(RequestSchema, { type: { case: "call", value: { method, nid, metadata: wireMd(md) } } })),
  ),
  echoRequest.map((d) => encodeData(d)),
  status.map((st) => toBinary(RequestSchema, create(RequestSchema, { type: { case: "end", value: { status: st } } }))),
);
const requestPayload = fc.oneof(
  { weight: 3, arbitrary: validRequest },
  { weight: 3, arbitrary: fc.tuple(validRequest, fc.array(mutation, { minLength: 1, maxLength: 3 })).map(([b, ms]) => mutate(b, ms)) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  { weight: 1, arbitrary: fc.constant(new Uint8Array(0)) },
);
const methods = ["Echo", "EchoStream", "EchoClientStream", "EchoBidi", "Nope", "Echo.extra", "Echo.>"];
/** One server case: a few messages on one stream (or none: no reply subject). */
const serverCase = fc.record({
  withReply: fc.boolean().map((b) => b || Math.random() < 0.9),
  msgs: fc.array(fc.record({ method: fc.constantFrom(...methods), payload: requestPayload }), { minLength: 1, maxLength: 5 }),
});

test(`TS nats-grpc server: ${SERVER_CASES} random and mutated request sequences → no crash, well-formed replies, still serving`, { timeout: budget(120_000) }, async () => {
  const replies: string[] = [];
  const badReplies: string[] = [];
  let ends = 0;
  const sub: Subscription = fz.subscribe("_INBOX_FZ.>", {
    callback: (_e, m) => {
      if (m.data.length === 0) return;
      try {
        const r = fromBinary(ResponseSchema, m.data);
        if (r.type.case === "end") {
          ends++;
          const c = r.type.value.status?.code;
          if (c !== undefined && !(c >= 1 && c <= 16)) badReplies.push(`End code ${c} on ${m.subject}`);
        } else if (r.type.case === undefined) badReplies.push(`empty response on ${m.subject}`);
      } catch (e) {
        badReplies.push(`undecodable reply on ${m.subject}: ${String(e)}`);
      }
    },
  });
  const client = new NrpcClient(fz, { nid: "fz-checker" });
  let n = 0;
  let sanity = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(serverCase, { minLength: BATCH, maxLength: BATCH }), async (cases) => {
      for (const c of cases) {
        const reply = `_INBOX_FZ.${++n}`;
        if (c.withReply) replies.push(reply);
        for (const m of c.msgs) fz.publish(`nrpc.${NID}.demo.v1.EchoService.${m.method}`, m.payload, c.withReply ? { reply } : undefined);
      }
      await fz.flush();
      // Still serving: a proper call gets its echo.
      const message = `sanity-${++sanity}`;
      const got = await new Promise<string>((resolve, reject) => {
        const s = client.open(NID, "demo.v1.EchoService", "Echo", { timeoutMs: 10_000 }, {
          onMessage: (d) => resolve(fromBinary(EchoResponseSchema, d).message),
          onEnd: (err) => (err ? reject(err) : undefined),
        });
        s.send(toBinary(EchoRequestSchema, create(EchoRequestSchema, { message })));
        s.closeSend();
      });
      assert.equal(got, message);
      assert.deepEqual(processErrors, []);
    }),
    { numRuns: SERVER_CASES / BATCH },
  );
  // Every stream the fuzz opened can still be ended by its caller.
  const openBefore = node.server.streamCount;
  for (const r of replies) fz.publish(`nrpc.${NID}.demo.v1.EchoService.Echo`, encodeRequestEnd(Code.Canceled, "fuzz over"), { reply: r });
  await fz.flush();
  await eventually(() => node.server.streamCount === 0, 10_000, `server streams ended (${node.server.streamCount} of ${openBefore} left)`);
  await fz.flush();
  sub.unsubscribe();
  client.close();
  assert.deepEqual(badReplies.slice(0, 5), [], "every reply is a well-formed nrpc.Response with a valid code");
  assert.deepEqual(processErrors, []);
  summary("nrpc-fuzz server", { cases: n, sanityCalls: sanity, endsReceived: ends, streamsLeftOpenThenCancelled: openBefore });
});

// ---------------------------------------------------------------------------------------------
// Client side.

const validResponse = fc.oneof(
  fc.record({ md: metadata, nid: fc.string({ maxLength: 12 }) }).map(({ md, nid }) => toBinary(ResponseSchema, create(ResponseSchema, { type: { case: "begin", value: { header: wireMd(md), nid } } }))),
  fc.uint8Array({ maxLength: 40 }).map((d) => encodeData(d)),
  fc.record({ st: status, md: metadata }).map(({ st, md }) => toBinary(ResponseSchema, create(ResponseSchema, { type: { case: "end", value: { status: st, trailer: wireMd(md) } } }))),
);
const responsePayload = fc.oneof(
  { weight: 4, arbitrary: validResponse },
  { weight: 3, arbitrary: fc.tuple(validResponse, fc.array(mutation, { minLength: 1, maxLength: 3 })).map(([b, ms]) => mutate(b, ms)) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  { weight: 1, arbitrary: fc.constant(new Uint8Array(0)) },
);

/** What an independent decoder predicts for a call that receives `payloads`, then End{NOT_FOUND}. */
function predict(payloads: Uint8Array[]): { code: number; messages: Uint8Array[]; headers: number; malformed: boolean } {
  const messages: Uint8Array[] = [];
  let headers = 0;
  for (const p of payloads) {
    if (p.length === 0) continue; // NATS status / empty payload: ignored
    let r;
    try {
      r = fromBinary(ResponseSchema, p);
    } catch {
      return { code: Code.Internal, messages, headers, malformed: true };
    }
    switch (r.type.case) {
      case "data":
        messages.push(r.type.value.data);
        break;
      case "begin":
        headers++;
        break;
      case "end": {
        const st = r.type.value.status;
        return { code: st && st.code !== 0 ? codeFromNumber(st.code) : 0, messages, headers, malformed: false };
      }
    }
  }
  return { code: Code.NotFound, messages, headers, malformed: false };
}

test(`nats-grpc client: ${CLIENT_CASES} random and mutated responses on live inboxes → each call ends once, as predicted`, { timeout: budget(120_000) }, async () => {
  // The "server": records each call's reply subject and the End{status} codes it receives.
  const callers = new Map<string, (reply: string) => void>();
  const upstreamEnds = new Map<string, number>();
  const server = fz.subscribe("nrpc.fz-node.>", {
    callback: (_e, m) => {
      if (!m.reply) return;
      const req = decodeRequest(m.data);
      if (req.type.case === "call") callers.get(m.reply)?.(m.reply);
      else if (req.type.case === "end" && req.type.value.status) upstreamEnds.set(m.reply, req.type.value.status.code);
    },
  });
  await fz.flush();
  const client = new NrpcClient(clientNc, { nid: "fz-gateway", halfCloseDelayMs: 0 });
  let cases = 0;
  let malformed = 0;
  const endCodes = new Map<number, number>();
  const notFound = toBinary(ResponseSchema, create(ResponseSchema, { type: { case: "end", value: { status: { code: Code.NotFound, message: "fuzz end" } } } }));

  const one = async (payloads: Uint8Array[]) => {
    const got = { messages: [] as Uint8Array[], headers: 0, ends: 0, err: undefined as ConnectError | undefined, afterEnd: 0 };
    let ended!: () => void;
    const done = new Promise<void>((r) => (ended = r));
    const s = client.open("fz-node", "demo.v1.EchoService", "EchoBidi", { timeoutMs: 15_000 }, {
      onHeader: () => (got.ends ? got.afterEnd++ : got.headers++),
      onMessage: (d) => (got.ends ? got.afterEnd++ : got.messages.push(d)),
      onEnd: (err) => {
        got.ends++;
        got.err = err;
        ended();
      },
    });
    // The Call reaches the fake server on another connection, in a later turn: register first.
    const reply = s.inbox;
    await new Promise<void>((r) => callers.set(reply, () => r()));
    callers.delete(reply);
    for (const p of payloads) fz.publish(reply, p);
    fz.publish(reply, notFound);
    await fz.flush();
    await done;
    await new Promise((r) => setImmediate(r));
    const want = predict(payloads);
    assert.equal(got.ends, 1, "onEnd exactly once");
    assert.equal(got.afterEnd, 0, "nothing after the end");
    assert.equal(got.err?.code ?? 0, want.code, `status (payloads: ${payloads.map((p) => Buffer.from(p).toString("hex")).join(" ")})`);
    assert.equal(got.headers, want.headers, "headers delivered");
    assert.deepEqual(got.messages.map((m) => Buffer.from(m).toString("hex")), want.messages.map((m) => Buffer.from(m).toString("hex")), "messages delivered");
    if (want.malformed) {
      malformed++;
      await eventually(() => upstreamEnds.has(reply), 5000, "End{INTERNAL} upstream");
      assert.equal(upstreamEnds.get(reply), Code.Internal);
    }
    upstreamEnds.delete(reply);
    endCodes.set(want.code, (endCodes.get(want.code) ?? 0) + 1);
    cases++;
  };

  await fc.assert(
    fc.asyncProperty(fc.array(fc.array(responsePayload, { minLength: 1, maxLength: 6 }), { minLength: BATCH, maxLength: BATCH }), async (batch) => {
      await Promise.all(batch.map(one));
    }),
    { numRuns: CLIENT_CASES / BATCH },
  );
  assert.equal(client.inFlight, 0, "no inbox token left");
  server.unsubscribe();
  client.close();
  assert.deepEqual(processErrors, []);
  summary("nrpc-fuzz client", { cases, malformedEnvelopeCases: malformed, endCodes: [...endCodes].sort((a, b) => a[0] - b[0]).map(([c, k]) => `${c}:${k}`).join(",") });
});
