/**
 * Hostile clients: NATS subject injection. Everything a client controls — the method path, metadata
 * keys and values (the sticky-room key that becomes a JetStream KV key, the pin header that picks a
 * node), the WebSocket header frame — is sent with `.`, `*`, `>`, spaces, tabs, CR/LF, NUL, `$KV`,
 * `_INBOX` and `nrpc.` fragments, on every protocol, while a raw NATS subscription on `>` records
 * every subject anyone publishes. Nothing but the intended subjects may appear: `nrpc.<live nid>.
 * demo.v1.EchoService.<Method>`, the KV key of the encoded room id (`placementKey`), and the fixed
 * infrastructure subjects (inboxes, discovery, JetStream API), all literal and well-formed. A node
 * announced in discovery with a NID that is not one subject token (`evil.x`, `*`, `a b`) is ignored.
 * (test/stack/gateway/limits.test.ts covers crafted paths without sticky placement or metadata.)
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import { placementKey } from "../../../src/balancer/placement-key.js";
import { encodeRequest } from "../../../src/discovery/messages.js";
import { connectNats } from "../../../src/runtime/node/nats-connect.js";
import { startStack, type Stack } from "../../helpers/gateway.js";
import { echoReq, echoRes } from "../../helpers/echo-schema.js";
import { assertNoLeaks, baseline, type Baseline } from "./leak-check.js";
import { rawCall, wireProtocols } from "./wire-call.js";
import { RawWebSocket } from "../../helpers/raw-websocket.js";
import { summary } from "../../helpers/soak.js";

const MARK = "ZQX"; // in every injected string; must never show up in a subject

let stack: Stack;
let base: Baseline;
let spyNc: NatsConnection;
let spy: Subscription;
const published: string[] = [];

before(async () => {
  stack = await startStack({ nodes: 2, jetstream: true, config: { edge: { balancer: { services: { demo: "sticky" } } } } });
  spyNc = await connectNats(stack.nats.wsUrl, { name: "test-subject-spy" });
  spy = spyNc.subscribe(">", { callback: (_e, m) => void published.push(m.subject) });
  await spyNc.flush();
  // Warm up: the placement bucket exists, one room placed.
  const w = await rawCall("connect", stack.url, "/demo.v1.EchoService/Echo", echoReq("warm"), { sid: "warm-room" });
  assert.equal(w.code, 0);
  base = await baseline(stack);
});
after(async () => {
  spy?.unsubscribe();
  await spyNc?.close();
  await stack?.stop();
});

/** Room ids, pin values and metadata that try to become subject tokens. */
const hostileValues = [
  `${MARK}.a`, `${MARK}.*`, `${MARK}.>`, `${MARK} b`, `${MARK}\tb`, `*`, `>`, `.`, `..`, `a..${MARK}`, `$KV.${MARK}`, `_INBOX.${MARK}`,
  `nrpc.${MARK}.demo.v1.EchoService.Echo`, `${MARK}é`, `${MARK}.`.repeat(80), ` ${MARK} `, `${MARK}/x`, `${MARK}%2E>`,
];
const hostileKeys = [`nrpc.${MARK.toLowerCase()}`, `_inbox.${MARK.toLowerCase()}`, `$kv.${MARK.toLowerCase()}`, `x-${MARK.toLowerCase()}.*`, `${MARK.toLowerCase()}..`];
const roomsSent = new Set<string>(["warm-room"]);
const counts = { calls: 0, ok: 0, refused: 0, wsHeaderFrames: 0 };

const isAscii = (s: string) => /^[\x20-\x7e]*$/.test(s);

test("hostile room ids, pins and metadata keys on every protocol: calls are served or refused, never misrouted", { timeout: 120_000 }, async () => {
  const nids = stack.nodes.map((n) => n.node.nid);
  for (const v of hostileValues) {
    for (const p of wireProtocols) {
      // HTTP clients cannot send tabs or non-ASCII in headers; the WebSocket header frame can.
      const headerSafe = isAscii(v.trim()) && v.trim() === v;
      if (!headerSafe && p !== "grpc-websockets") continue;
      const md: Record<string, string> = { sid: v, "x-edge-node": v, "x-ion-sid": v };
      for (const k of hostileKeys) md[k] = "v";
      const out = await rawCall(p, stack.url, "/demo.v1.EchoService/" + (p === "connect" ? "Echo" : "EchoStream"), echoReq(`inj-${v}`), md);
      counts.calls++;
      roomsSent.add(v);
      // `$kv.zqx` and friends are valid HTTP tokens; `x-zqx.*` is not (INVALID_ARGUMENT on the WebSocket).
      if (out.code === 0) {
        counts.ok++;
        assert.ok(nids.includes(echoRes(out.data!.at(-1)!).node), `${p} ${JSON.stringify(v)}: served by a live node`);
      } else {
        counts.refused++;
        assert.ok(out.code === 3 || out.http === 400, `${p} ${JSON.stringify(v)}: refused cleanly (${JSON.stringify({ ...out, data: undefined })})`);
      }
    }
  }
  // Without the non-token keys, every protocol serves the call (hostile values are just data).
  for (const v of hostileValues.filter((x) => isAscii(x) && x.trim() === x)) {
    for (const p of wireProtocols) {
      // Connect streaming asks for a streaming method (a unary one is 415, as connect-node answers).
      const out = await rawCall(p, stack.url, "/demo.v1.EchoService/" + (p === "connect-stream" ? "EchoStream" : "Echo"), echoReq(`inj2-${v}`), { sid: v, "x-edge-node": v, [`nrpc.${MARK.toLowerCase()}`]: v });
      counts.calls++;
      assert.equal(out.code, 0, `${p} ${JSON.stringify(v)}: served (${JSON.stringify({ ...out, data: undefined })})`);
      counts.ok++;
    }
  }
});

test("raw grpc-websockets header frames: CR, LF, NUL, a header line that spells a second key, keys with wildcards", async () => {
  const port = new URL(stack.url).port;
  const frames = [
    `sid: ${MARK}\r\nx-edge-node: *\r\n`,
    `sid: ${MARK}.>\rx-b: c\r\n`, // bare CR inside a value
    `sid: ${MARK}\0.>\r\n`, // NUL
    `x-a: b\r\nsid: ${MARK}.*\r\n\r\nnrpc.x: y\r\n`, // blank line inside
    `nrpc.>: ${MARK}\r\n`,
    `sid:${MARK}\n\nx-edge-node:>\n`, // bare LFs
    `sid: ${"x".repeat(300)}.${MARK}\r\n`,
  ];
  for (const block of frames) {
    const ws = await RawWebSocket.open(Number(port), "/demo.v1.EchoService/Echo");
    ws.send(Buffer.from(block, "latin1"));
    const m = echoReq(`raw-${MARK}`);
    const f = Buffer.alloc(6 + m.length);
    f.writeUInt32BE(m.length, 2);
    f.set(m, 6);
    ws.send(f);
    ws.send(Buffer.of(1));
    assert.ok(await ws.waitClosed(10_000), "the call ends and the socket closes");
    counts.wsHeaderFrames++;
    const text = Buffer.concat(ws.data).toString("latin1");
    assert.match(text, /grpc-status: (0|3)\r\n/, `status OK or INVALID_ARGUMENT for ${JSON.stringify(block)}`);
    roomsSent.add(MARK).add(`${MARK}.>`).add(`${MARK}.*`).add(`${"x".repeat(300)}.${MARK}`);
  }
});

test("crafted method paths with the marker never reach NATS", async () => {
  for (const path of [`/demo.v1.${MARK}.*/Echo`, `/demo.v1.EchoService/${MARK}.>`, `/demo.v1.EchoService/Echo%2E${MARK}`, `/demo.v1.EchoService/Echo%20${MARK}`, `/${MARK}>/x`, `/demo.v1.EchoService%2F${MARK}/Echo`]) {
    for (const p of wireProtocols) {
      const out = await rawCall(p, stack.url, path, echoReq("path"), {});
      counts.calls++;
      assert.ok(out.http === 404 || out.code === 12, `${p} ${path}: refused (${JSON.stringify({ ...out, data: undefined })})`);
    }
  }
  // A percent-encoded unreserved character is that character (RFC 3986): `%2E` in the service name
  // is a legal path to service `demo.v1.EchoService.Other`, whose subject is the intended one.
  for (const p of wireProtocols) {
    const out = await rawCall(p, stack.url, "/demo.v1.EchoService%2EOther/Echo", echoReq("dot"), {});
    assert.ok(out.http === 404 || out.code === 12, `${p}: UNIMPLEMENTED from the node (${JSON.stringify({ ...out, data: undefined })})`);
  }
});

test("discovery: nodes whose NID or service is not one subject token are never called", async () => {
  const hostileNids = ["evil.x", "*", ">", "a b", `${MARK}.>`, "x\ty", ""];
  for (const [i, nid] of hostileNids.entries()) {
    const node = { DC: "dc1", Service: "demo", NID: nid, RPC: { Protocol: "nats-grpc", Addr: "", Params: {} }, ExtraInfo: null };
    spyNc.publish(`node.discovery.demo.dc1.hostile${i}`, encodeRequest({ Action: "save", Node: node }));
  }
  spyNc.publish("node.discovery.demo.dc1.svc", encodeRequest({ Action: "save", Node: { DC: "dc1", Service: "de.mo", NID: "fine-nid", RPC: { Protocol: "nats-grpc", Addr: "", Params: {} }, ExtraInfo: null } }));
  await spyNc.flush();
  await new Promise((r) => setTimeout(r, 300));
  const nids = stack.nodes.map((n) => n.node.nid);
  assert.deepEqual(stack.gw.gateway.table.nodes("demo").map((n) => n.nid).sort(), [...nids].sort(), "only the real nodes are in the table");
  for (let i = 0; i < 30; i++) {
    const out = await rawCall("connect", stack.url, "/demo.v1.EchoService/Echo", echoReq(`after-hostile-nodes-${i}`));
    counts.calls++;
    assert.equal(out.code, 0);
  }
});

test("every subject published during the suite is literal, well-formed and intended", async () => {
  // A control call that reaches a node: everything published before it has reached the spy.
  const c = await rawCall("connect", stack.url, "/demo.v1.EchoService/Echo", echoReq("control"));
  assert.equal(c.code, 0);
  await stack.gw.gateway.client.nc.flush();
  await spyNc.flush();
  const nids = stack.nodes.map((n) => n.node.nid);
  const methods = ["Echo", "EchoStream", "EchoClientStream", "EchoBidi"];
  const nrpcIntended = new Set(nids.flatMap((nid) => [...methods.map((m) => `nrpc.${nid}.demo.v1.EchoService.${m}`), `nrpc.${nid}.demo.v1.EchoService.Other.Echo`]));
  const kvIntended = new Set([...roomsSent].map((r) => placementKey("demo", r)));
  const bad: string[] = [];
  for (const s of published) {
    const tokens = s.split(".");
    if (tokens.some((t) => t === "" || t === "*" || t === ">" || /[\s\x00-\x1f\x7f]/.test(t))) bad.push(`malformed ${JSON.stringify(s)}`);
    if (s.startsWith("nrpc.")) {
      if (!nrpcIntended.has(s)) bad.push(`unintended nrpc subject ${s}`);
      continue;
    }
    const kv = s.indexOf("$KV.edge_signal_placement.");
    if (kv >= 0) {
      // The room id, encoded injectively into KV key tokens (r-<as is> only for [-_a-zA-Z0-9]).
      if (!kvIntended.has(s.slice(kv + "$KV.edge_signal_placement.".length))) bad.push(`unintended KV key in ${s}`);
      continue;
    }
    if (s.toLowerCase().includes(MARK.toLowerCase())) bad.push(`marker in ${s}`);
    if (!/^(_INBOX\.|node\.(publish|discovery)\.|\$SRV\.|\$JS\.)/.test(s)) bad.push(`unexpected subject ${s}`);
  }
  assert.deepEqual(bad.slice(0, 10), []);
  assert.ok(published.some((s) => s.includes("$KV.edge_signal_placement.")), "sticky placements did go through KV");
  summary("injection", { ...counts, subjectsRecorded: published.length, distinctSubjects: new Set(published).size, hostileValues: hostileValues.length, hostileKeys: hostileKeys.length });
});

test("no leaks after the injection suite", async () => {
  await assertNoLeaks(stack, base);
});
