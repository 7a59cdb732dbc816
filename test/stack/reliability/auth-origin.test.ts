/**
 * Hostile clients against auth and origins, on every protocol, with JWT auth on:
 * - a token valid for one service used on another → PERMISSION_DENIED (also through `?token=` on a
 *   WebSocket, a `services` entry that is a prefix but not at a dot, an empty list, no claim), and the
 *   backend is never called; the status API refuses it too;
 * - forged claim headers (`x-ion-uid`, `X-Ion-Sid`, duplicates, odd spacing in the WebSocket header
 *   frame, `x-edge-internal`) are replaced by the verified claims or stripped; a claim holding CR/LF
 *   arrives as one percent-encoded value;
 * - a WebSocket from a disallowed Origin is refused (403), and so is a cross-site HTTP RPC: CORS alone
 *   would let a Connect GET (a "simple" request, no preflight) run the call with the browser's cookies.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import type { NatsConnection } from "@nats-io/nats-core";
import { mintToken, parseAuthConfig } from "../../../src/auth/index.js";
import { DiscoveryClient, type KeepAliveHandle } from "../../../src/discovery/index.js";
import { EchoResponseSchema } from "../../../src/gen/demo/v1/echo_pb.js";
import { connectNats } from "../../../src/runtime/node/nats-connect.js";
import { NrpcServer, type ServerCall } from "../../../src/nrpc/index.js";
import type { Metadata } from "../../../src/core/metadata.js";
import { startStack, type Stack } from "../../helpers/gateway.js";
import { eventually } from "../../helpers/nats.js";
import { echoReq } from "../../helpers/echo-schema.js";
import { WsCall } from "../../helpers/grpc-websockets-client.js";
import { assertNoLeaks, baseline, type Baseline } from "./leak-check.js";
import { rawCall, wireProtocols } from "./wire-call.js";
import { RawWebSocket } from "../../helpers/raw-websocket.js";
import { summary } from "../../helpers/soak.js";

const SECRET = "reliability-secret";
const GOOD = "https://good.example";
const auth = parseAuthConfig({ enabled: true, key: SECRET });
const token = (claims: Record<string, unknown>) => mintToken(auth, claims);

let stack: Stack;
let base: Baseline;
let nc: NatsConnection;
let server: NrpcServer;
let reg: KeepAliveHandle;
/** What reached the recorder backend, by `x-case`. */
const seen = new Map<string, Metadata>();
const counts = { permissionDenied: 0, forgedClaimCalls: 0, originRefused: 0, crossSiteRefused: 0 };

before(async () => {
  stack = await startStack({
    nodes: 1,
    config: {
      signal: { grpc: { host: "127.0.0.1", port: 0 }, jwt: { enabled: true, key: SECRET, allow_query_token: true } },
      edge: { routes: { "probe.v1": "probe" }, allowed_origins: [GOOD] },
    },
  });
  nc = await connectNats(stack.nats.wsUrl, { name: "test-recorder" });
  server = new NrpcServer(nc, { nid: "recorder" });
  const reply = toBinary(EchoResponseSchema, create(EchoResponseSchema, { message: "recorded", node: "recorder" }));
  const record = async (call: ServerCall) => {
    seen.set(call.metadata.get("x-case")?.[0] ?? "?", call.metadata);
    for await (const _ of call.requests) call.send(reply);
  };
  server.register("probe.v1.EchoService", { Echo: record, EchoStream: record });
  await nc.flush();
  reg = new DiscoveryClient(nc).keepAlive({ nid: "recorder", service: "probe", dc: "dc1", rpc: { protocol: "nats-grpc", addr: "", params: {} }, extraInfo: {}, source: "discovery", lastSeen: Date.now() });
  await reg.ready;
  await stack.waitForNodes(1, "probe");
  base = await baseline(stack);
});
after(async () => {
  await reg?.close().catch(() => {});
  server?.close();
  await nc?.close();
  await stack?.stop();
});

let seq = 0;
const method = (p: string) => (p === "connect" ? "Echo" : "EchoStream");

test("a token for one service used on another → PERMISSION_DENIED on every protocol; the backend never sees it", async () => {
  const probeOnly = await token({ uid: "u", services: ["probe"] });
  const cases: [string, string, string][] = [
    // [token, path prefix, what]
    [probeOnly, "/demo.v1.EchoService/", "probe token on demo"],
    [await token({ uid: "u", services: ["demo"] }), "/probe.v1.EchoService/", "demo token on probe"],
    [await token({ uid: "u", services: ["probe.v"] }), "/probe.v1.EchoService/", "a prefix not at a dot"],
    [await token({ uid: "u", services: ["probe.v1.EchoServiceX"] }), "/probe.v1.EchoService/", "a longer service name"],
    [await token({ uid: "u", services: [] }), "/probe.v1.EchoService/", "an empty services list"],
    [await token({ uid: "u" }), "/probe.v1.EchoService/", "no services claim"],
  ];
  const before = seen.size;
  for (const [t, prefix, what] of cases) {
    for (const p of wireProtocols) {
      const id = `deny-${++seq}`;
      const out = await rawCall(p, stack.url, prefix + method(p), echoReq(id), { authorization: `Bearer ${t}`, "x-case": id });
      assert.equal(out.code, Code.PermissionDenied, `${what}, ${p}: ${JSON.stringify({ ...out, data: undefined })}`);
      if (p === "connect") assert.equal(out.http, 403);
      counts.permissionDenied++;
    }
    // The WebSocket query token is checked the same way.
    const c = new WsCall(`${stack.wsUrl}${prefix}EchoStream?token=${encodeURIComponent(t)}`);
    await c.start({ "x-case": `deny-q-${++seq}` }, [echoReq("q")], true);
    assert.equal((await c.result()).code, Code.PermissionDenied, `${what}, ?token=`);
    counts.permissionDenied++;
  }
  assert.equal(seen.size, before, "no denied call reached the backend");
  // The status API wants `edge` in services.
  const api = await fetch(`${stack.url}/api/nodes`, { headers: { authorization: `Bearer ${probeOnly}` } });
  assert.equal(api.status, 403);
  await api.text();
  // Control: the probe token works where it should.
  const ok = await rawCall("grpc-web", stack.url, "/probe.v1.EchoService/EchoStream", echoReq("ok"), { authorization: `Bearer ${probeOnly}`, "x-case": "allowed" });
  assert.equal(ok.code, 0);
});

test("forged claim headers are replaced by the verified claims, or stripped when the token has none", async () => {
  const alice = await token({ uid: "alice", sid: "room-1", services: ["probe"] });
  const anon = await token({ services: ["probe"] });
  const crlf = await token({ uid: "alice\r\nx-admin: 1", sid: "r\u00e9", services: ["probe"] });
  const forged = { "x-ion-uid": "mallory", "X-Ion-Sid": "evil-room", "x-edge-internal": "1", "x-admin": "0" };
  for (const p of wireProtocols) {
    for (const [t, uid, sid] of [
      [alice, ["alice"], ["room-1"]],
      [anon, undefined, undefined],
      [crlf, ["alice%0D%0Ax-admin: 1"], ["r%C3%A9"]],
    ] as const) {
      const id = `forge-${++seq}`;
      const out = await rawCall(p, stack.url, "/probe.v1.EchoService/" + method(p), echoReq(id), { authorization: `Bearer ${t}`, "x-case": id, ...forged });
      assert.equal(out.code, 0, `${p}: ${JSON.stringify({ ...out, data: undefined })}`);
      const md = (await eventually(() => seen.get(id), 5000, `backend saw ${id}`))!;
      assert.deepEqual(md.get("x-ion-uid"), uid, `${p}: x-ion-uid`);
      assert.deepEqual(md.get("x-ion-sid"), sid, `${p}: x-ion-sid`);
      assert.equal(md.get("x-edge-internal"), undefined, `${p}: x-edge-internal stripped`);
      assert.equal(md.get("authorization"), undefined, `${p}: authorization not forwarded`);
      assert.deepEqual(md.get("x-admin"), ["0"], `${p}: a claim cannot add a header line`);
      counts.forgedClaimCalls++;
    }
  }
  // The WebSocket header frame by hand: duplicates, odd spacing and case.
  const port = Number(new URL(stack.url).port);
  const ws = await RawWebSocket.open(port, "/probe.v1.EchoService/Echo");
  const id = `forge-raw-${++seq}`;
  ws.send(Buffer.from(`authorization: Bearer ${alice}\r\nx-case: ${id}\r\nx-ion-uid: m1\r\nX-ION-UID:m2\r\nx-ion-uid :m3\r\n  x-ion-sid: s1\r\n`, "latin1"));
  const m = echoReq("raw");
  const f = Buffer.alloc(6 + m.length);
  f.writeUInt32BE(m.length, 2);
  f.set(m, 6);
  ws.send(f);
  ws.send(Buffer.of(1));
  assert.ok(await ws.waitClosed(10_000));
  const md = seen.get(id);
  assert.ok(md, "the raw call reached the backend");
  assert.deepEqual(md.get("x-ion-uid"), ["alice"]);
  assert.deepEqual(md.get("x-ion-sid"), ["room-1"]);
  counts.forgedClaimCalls++;
});

test("WebSockets from disallowed Origins are refused (403); allowed, same-case-insensitive and absent Origins work", async () => {
  const t = await token({ uid: "u", services: ["probe"] });
  for (const origin of ["https://evil.example", "null", "https://good.example.evil.example", "https://good.example:8443", "http://good.example", "https://evil.example/https://good.example"]) {
    const c = new WsCall(`${stack.wsUrl}/probe.v1.EchoService/EchoStream?token=${t}`, { origin });
    await assert.rejects(c.opened, /403/, origin);
    assert.equal(c.refused, 403, origin);
    counts.originRefused++;
  }
  for (const origin of [GOOD, "HTTPS://GOOD.EXAMPLE", undefined]) {
    const c = new WsCall(`${stack.wsUrl}/probe.v1.EchoService/EchoStream?token=${t}`, origin ? { origin } : {});
    await c.start({ "x-case": `origin-ok-${++seq}` }, [echoReq("o")], true);
    assert.equal((await c.result()).code, 0, String(origin));
  }
});

test("cross-site HTTP RPCs from a disallowed Origin are refused before any call (Connect GET needs no preflight)", async () => {
  const t = await token({ uid: "u", services: ["probe"] });
  const before = seen.size;
  for (const origin of ["https://evil.example", "null"]) {
    const get = await fetch(`${stack.url}/probe.v1.EchoService/Echo?encoding=proto&base64=1&message=${Buffer.from(echoReq("csrf")).toString("base64url")}`, {
      headers: { origin, authorization: `Bearer ${t}` },
    });
    assert.equal(get.status, 403, `Connect GET from ${origin}`);
    await get.text();
    for (const p of wireProtocols.filter((x) => x !== "grpc-websockets" && x !== "grpc")) {
      const out = await rawCall(p, stack.url, "/probe.v1.EchoService/" + method(p), echoReq("csrf"), { origin, authorization: `Bearer ${t}`, "x-case": `csrf-${++seq}` });
      assert.equal(out.http, 403, `${p} from ${origin}`);
      counts.crossSiteRefused++;
    }
    counts.crossSiteRefused++;
  }
  assert.equal(seen.size, before, "no cross-site call reached the backend");
  // The allowed origin and the gateway's own origin (its status page) still work.
  for (const origin of [GOOD, stack.url]) {
    const out = await rawCall("connect", stack.url, "/probe.v1.EchoService/Echo", echoReq("same"), { origin, authorization: `Bearer ${t}`, "x-case": `origin-${++seq}` });
    assert.equal(out.code, 0, origin);
  }
});

test("no leaks after the auth and origin suite", async () => {
  await assertNoLeaks(stack, base);
  summary("auth-origin", counts);
});
