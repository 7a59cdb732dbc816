/**
 * The Director's decisions — route, authenticate, balance, retry, the first-message rules — against
 * fakes of its small interfaces (src/director/types.ts): a node source, a balancer, an authenticator
 * and an observer, each a few lines of in-memory code that records what the Director asked of it.
 * The nats-grpc side is real: an NrpcClient on a real nats-server, and NrpcServers as nodes. A
 * "ghost" is a node in the node table with no server behind it: NATS answers "no responders", as for
 * a node that died after discovery last heard of it. Runs in the test process (Node).
 */
import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import type { NatsConnection } from "@nats-io/nats-core";
import { createMetadata, firstValue, type Call, type CallShape, type Metadata, type NodeInfo } from "../../src/core/index.js";
import {
  createDirector,
  createRouteTable,
  type CallInfo,
  type CallOutcome,
  type Director,
  type DirectorAuthenticator,
  type DirectorBalancer,
  type DirectorNodeSource,
  type DirectorObserver,
  type DirectorOptions,
} from "../../src/director/index.js";
import { NrpcClient, NrpcServer, type ServerCall } from "../../src/nrpc/index.js";
import { node } from "../helpers/node-info.js";
import { natsServer, tcp, type NatsServer } from "../helpers/nats.js";
import { registerProbe } from "../helpers/probe-service.js";
import { pushable } from "../helpers/streams.js";
import { eventually, within } from "../helpers/wait.js";

const enc = new TextEncoder();
const dec = new TextDecoder();
const text = (ms: readonly Uint8Array[]) => ms.map((m) => dec.decode(m));

// ---------------------------------------------------------------------------------------------
// Fakes of the Director's collaborators.

/** The node table: live nodes per discovery service, set by the test. */
class FakeNodes implements DirectorNodeSource {
  readonly byService = new Map<string, NodeInfo[]>();
  set(service: string, ...nids: string[]): void {
    this.byService.set(service, nids.map((nid) => node(nid, {}, service)));
  }
  nodes(service: string): readonly NodeInfo[] {
    return this.byService.get(service) ?? [];
  }
}

/** One `pick` as the balancer saw it. */
interface SeenPick {
  service: string;
  offered: string[];
  exclude: string[];
  metadata: Metadata;
  claims: Record<string, unknown> | undefined;
  messageKey: string | undefined;
}

/** A balancer that records every question; it picks the first offered node not excluded, unless told otherwise. */
class FakeBalancer implements DirectorBalancer {
  readonly picks: SeenPick[] = [];
  readonly started: string[] = [];
  readonly ended: [string, CallOutcome][] = [];
  choose: (offered: readonly NodeInfo[], exclude: ReadonlySet<string> | undefined) => NodeInfo | undefined | Promise<NodeInfo | undefined> = (offered, exclude) =>
    offered.find((n) => !exclude?.has(n.nid));
  waitsForMessage?: DirectorBalancer["waitsForMessage"];
  messageKey?: DirectorBalancer["messageKey"];
  roomOf?: DirectorBalancer["roomOf"];

  pick(service: string, nodes: readonly NodeInfo[], ctx: Parameters<DirectorBalancer["pick"]>[2]) {
    this.picks.push({ service, offered: nodes.map((n) => n.nid), exclude: [...(ctx.exclude ?? [])], metadata: ctx.metadata, claims: ctx.claims, messageKey: ctx.messageKey });
    return this.choose(nodes, ctx.exclude);
  }
  onCallStart(nid: string): void {
    this.started.push(nid);
  }
  onCallEnd(nid: string, outcome: CallOutcome): void {
    this.ended.push([nid, outcome]);
  }
}

/** Claims of the token `Bearer good`. */
const goodClaims = { uid: "u1", sid: "room-1" };

/**
 * An authenticator that knows two tokens: `Bearer good` (claims {@link goodClaims}, forwarded as
 * `x-ion-uid`/`x-ion-sid`) and `Bearer boom` (a bug: throws a plain Error); anything else is
 * UNAUTHENTICATED.
 */
class FakeAuth implements DirectorAuthenticator {
  enabled = true;
  readonly claimHeaderNames = ["x-ion-uid", "x-ion-sid"];
  readonly seen: Parameters<DirectorAuthenticator["authenticate"]>[0][] = [];
  async authenticate(req: Parameters<DirectorAuthenticator["authenticate"]>[0]) {
    this.seen.push(req);
    const token = firstValue(req.metadata, "authorization");
    if (token === "Bearer good") return { claims: { ...goodClaims }, forward: createMetadata({ "x-ion-uid": goodClaims.uid, "x-ion-sid": goodClaims.sid }) };
    if (token === "Bearer boom") throw new Error("authenticator bug");
    throw new ConnectError("bad token", Code.Unauthenticated);
  }
}

/** An observer that writes each event as one line: `started`, `routed <nid> <room>`, `ended <code>`, `authFailed <code>`. */
class FakeObserver implements DirectorObserver {
  readonly events: string[] = [];
  callStarted(): void {
    this.events.push("started");
  }
  callRouted(info: CallInfo): void {
    this.events.push(`routed ${info.service} ${info.nid} ${info.room ?? "-"}`);
  }
  callEnded(_info: CallInfo, error: ConnectError | undefined): void {
    this.events.push(`ended ${error ? Code[error.code] : "OK"}`);
  }
  authFailed(_info: CallInfo, error: ConnectError): void {
    this.events.push(`authFailed ${Code[error.code]}`);
  }
}

// ---------------------------------------------------------------------------------------------
// A call as an adapter would hand it over, and a responder that records what the Director wrote.

/** What the Director wrote back. */
interface Written {
  header: Metadata | undefined;
  messages: Uint8Array[];
  error: ConnectError | undefined;
}

/** One call in flight: push request messages, half-close, cancel; `result` resolves once the Director is done. */
interface TestCall {
  push(message: string): void;
  halfClose(): void;
  cancel(): void;
  readonly written: Written;
  readonly result: Promise<Written>;
}

function startCall(
  director: Director,
  path: string,
  opts: { metadata?: Record<string, string>; messages?: string[]; halfClose?: boolean; shape?: CallShape; timeoutMs?: number } = {},
): TestCall {
  const requests = pushable<Uint8Array>();
  for (const m of opts.messages ?? []) requests.push(enc.encode(m));
  if (opts.halfClose ?? true) requests.end();
  const ac = new AbortController();
  const call: Call = {
    path,
    protocol: "grpc-websockets",
    shape: opts.shape ?? "unknown",
    metadata: createMetadata(opts.metadata ?? {}),
    signal: ac.signal,
    timeoutMs: opts.timeoutMs,
    requests: requests.iterable,
    remote: {},
  };
  const written: Written = { header: undefined, messages: [], error: undefined };
  let ended = false;
  const done = director.handle(call, {
    header(md) {
      assert.equal(written.header, undefined, "at most one header");
      written.header = md;
    },
    message(data) {
      written.messages.push(data);
    },
    end(err) {
      assert.equal(ended, false, "exactly one end");
      ended = true;
      written.error = err;
    },
  });
  return {
    push: (m) => requests.push(enc.encode(m)),
    halfClose: () => requests.end(),
    cancel: () => ac.abort(),
    written,
    result: within(
      done.then(() => {
        assert.equal(ended, true, "the Director ended the call before its handler returned");
        return written;
      }),
      10_000,
      `call ${path}`,
    ),
  };
}

/** A whole call: request messages, half-close, result. */
function call(director: Director, path: string, opts: Parameters<typeof startCall>[2] = {}): Promise<Written> {
  return startCall(director, path, opts).result;
}

function assertCode(w: Written, code: Code, message?: RegExp): void {
  assert.ok(w.error, `expected ${Code[code]}, got OK`);
  assert.equal(w.error.code, code, `expected ${Code[code]}, got ${Code[w.error.code]}: ${w.error.rawMessage}`);
  if (message) assert.match(w.error.rawMessage, message);
}

// ---------------------------------------------------------------------------------------------
// The stack: nats-server, the client, nodes `a` and `b` serving test.v1.Probe and test.v1.Faults.

let nats: NatsServer;
let clientNc: NatsConnection;
let nodeNc: NatsConnection;
let client: NrpcClient;
/** Calls each real node served, by nid. */
const served = new Map<string, ServerCall[]>();
const nodeServers: NrpcServer[] = [];

before(async () => {
  nats = await natsServer();
  clientNc = await tcp(nats, "director-test-client");
  nodeNc = await tcp(nats, "director-test-nodes");
  client = new NrpcClient(clientNc, { nid: "director-test" });
  for (const nid of ["a", "b"]) {
    const seen: ServerCall[] = [];
    served.set(nid, seen);
    const srv = new NrpcServer(nodeNc, { nid });
    registerProbe(srv, seen);
    srv.register("test.v1.Faults", {
      // Fails with a status of its own once the request message is in. (Both read one message and
      // never wait for the half-close: a one-request call's half-close waits for the node's answer.)
      Fail: async (c) => {
        seen.push(c);
        for await (const _ of c.requests) break;
        throw new ConnectError("node says no", Code.FailedPrecondition);
      },
      // Ends OK without sending a message.
      Silent: async (c) => {
        seen.push(c);
        for await (const _ of c.requests) break;
      },
    });
    nodeServers.push(srv);
  }
  await nodeNc.flush();
});

after(async () => {
  for (const s of nodeServers) s.close();
  await clientNc?.close();
  await nodeNc?.close();
  await nats?.stop();
});

let nodes: FakeNodes;
let balancer: FakeBalancer;
let auth: FakeAuth;
let observer: FakeObserver;

beforeEach(() => {
  for (const seen of served.values()) seen.length = 0;
  nodes = new FakeNodes();
  nodes.set("test", "a", "b");
  balancer = new FakeBalancer();
  auth = new FakeAuth();
  observer = new FakeObserver();
});

/** A Director on the fakes: ION's rule routes `test.v1.*` to service `test`; `elsewhere.v1` is routed explicitly. */
function director(opts: Partial<DirectorOptions> = {}): Director {
  return createDirector({
    client,
    routes: createRouteTable(["test"], { "elsewhere.v1": "elsewhere" }),
    nodes,
    balancer,
    auth,
    observer,
    ...opts,
  });
}

const servedBy = (nid: string) => served.get(nid)!;
const good = { authorization: "Bearer good" };

// ---------------------------------------------------------------------------------------------

describe("routing", () => {
  test("a method goes to the service its package routes to, on the node the balancer picked; the response names that node", async () => {
    balancer.choose = (offered) => offered[1];
    const w = await call(director(), "/test.v1.Probe/Raw", { metadata: good, messages: ["m1", "m2"] });
    assert.equal(w.error, undefined);
    assert.deepEqual(text(w.messages), ["m1", "m2"]);
    assert.deepEqual(w.header?.get("x-edge-node"), ["b"]);
    assert.deepEqual(balancer.picks.map((p) => [p.service, p.offered, p.exclude]), [["test", ["a", "b"], []]]);
    assert.equal(servedBy("b").length, 1);
    assert.equal(servedBy("a").length, 0);
    assert.deepEqual(balancer.started, ["b"]);
    assert.deepEqual(balancer.ended, [["b", "ok"]]);
    assert.deepEqual(observer.events, ["started", "routed test b -", "ended OK"]);
  });

  test("an explicit route names the discovery service; a service without live nodes is UNAVAILABLE and the balancer is not asked", async () => {
    const w = await call(director(), "/elsewhere.v1.Thing/Do", { metadata: good, messages: ["x"] });
    assertCode(w, Code.Unavailable, /no live node for service elsewhere/);
    assert.equal(balancer.picks.length, 0);
    assert.deepEqual(observer.events, ["started", "ended Unavailable"]);
  });

  test("an unknown package or a malformed path is UNIMPLEMENTED before auth, the balancer or NATS", async () => {
    for (const path of ["/nope.v1.Thing/Do", "/no-method", "test.v1.Probe/Raw"]) {
      const w = await call(director(), path, { metadata: good, messages: ["x"] });
      assertCode(w, Code.Unimplemented);
    }
    assert.equal(auth.seen.length, 0);
    assert.equal(balancer.picks.length, 0);
    assert.equal(servedBy("a").length + servedBy("b").length, 0);
  });

  test("the node header can be renamed or turned off", async () => {
    const renamed = await call(director({ nodeHeader: "x-served-by" }), "/test.v1.Probe/Raw", { metadata: good, messages: ["m"] });
    assert.deepEqual(renamed.header?.get("x-served-by"), ["a"]);
    assert.equal(renamed.header?.has("x-edge-node"), false);
    const off = await call(director({ nodeHeader: "" }), "/test.v1.Probe/Raw", { metadata: good, messages: ["m"] });
    assert.equal(off.error, undefined);
    assert.equal(off.header?.has("x-edge-node"), false);
  });
});

describe("authentication", () => {
  test("a refused token ends the call with the authenticator's status; nothing is picked or reaches a node", async () => {
    const w = await call(director(), "/test.v1.Probe/Raw", { metadata: { authorization: "Bearer bad" }, messages: ["x"] });
    assertCode(w, Code.Unauthenticated, /bad token/);
    assert.equal(auth.seen.length, 1);
    assert.deepEqual(observer.events, ["started", "authFailed Unauthenticated", "ended Unauthenticated"]);
    assert.equal(balancer.picks.length, 0);
    assert.equal(servedBy("a").length + servedBy("b").length, 0);
  });

  test("an authenticator that throws something else is UNAUTHENTICATED, not INTERNAL", async () => {
    const w = await call(director(), "/test.v1.Probe/Raw", { metadata: { authorization: "Bearer boom" }, messages: ["x"] });
    assertCode(w, Code.Unauthenticated, /authentication failed/);
    assert.equal(balancer.picks.length, 0);
  });

  test("the authenticator gets the client's metadata and the parsed method; the query token is passed on", async () => {
    await call(director(), "/test.v1.Probe/Raw", { metadata: good, messages: ["x"] });
    const seen = auth.seen[0]!;
    assert.equal(seen.service, "test.v1.Probe");
    assert.equal(seen.method, "Raw");
    assert.equal(seen.path, "/test.v1.Probe/Raw");
    assert.deepEqual(seen.metadata.get("authorization"), ["Bearer good"]);
  });

  test("backend metadata: credentials and forged claim headers dropped, verified claims added; the balancer sees the same and the claims", async () => {
    const w = await call(director(), "/test.v1.Probe/Raw", {
      metadata: { ...good, cookie: "c=1", "x-ion-uid": "forged", "x-ion-sid": "forged-room", "x-edge-internal": "1", "x-app": "kept" },
      messages: ["x"],
    });
    assert.equal(w.error, undefined);
    const md = servedBy("a")[0]!.metadata;
    for (const k of ["authorization", "cookie", "x-edge-internal"]) assert.equal(md.has(k), false, `${k} is not forwarded`);
    assert.deepEqual(md.get("x-ion-uid"), ["u1"]);
    assert.deepEqual(md.get("x-ion-sid"), ["room-1"]);
    assert.deepEqual(md.get("x-app"), ["kept"]);
    const pick = balancer.picks[0]!;
    assert.deepEqual(pick.claims, goodClaims);
    assert.deepEqual(pick.metadata.get("x-ion-uid"), ["u1"]);
    assert.equal(pick.metadata.has("authorization"), false);
  });

  test("forwardAuthorization and forwardCookies pass the credentials on", async () => {
    await call(director({ forwardAuthorization: true, forwardCookies: true }), "/test.v1.Probe/Raw", { metadata: { ...good, cookie: "c=1" }, messages: ["x"] });
    const md = servedBy("a")[0]!.metadata;
    assert.deepEqual(md.get("authorization"), ["Bearer good"]);
    assert.deepEqual(md.get("cookie"), ["c=1"]);
  });

  test("with auth off, no token is checked, and claim headers sent by the client are still dropped", async () => {
    auth.enabled = false;
    const w = await call(director(), "/test.v1.Probe/Raw", { metadata: { "x-ion-uid": "forged" }, messages: ["x"] });
    assert.equal(w.error, undefined);
    assert.equal(auth.seen.length, 0);
    assert.equal(servedBy("a")[0]!.metadata.has("x-ion-uid"), false);
    assert.equal(balancer.picks[0]!.claims, undefined);
  });
});

describe("balancing", () => {
  test("the first message's room goes to pick; roomOf is reported to the observer before the call is routed", async () => {
    balancer.messageKey = (service, method, m) => {
      assert.equal(service, "test");
      assert.equal(method, "test.v1.Probe/Raw");
      return `room:${dec.decode(m)}`;
    };
    balancer.roomOf = (_s, ctx) => ctx.messageKey;
    const w = await call(director(), "/test.v1.Probe/Raw", { metadata: good, messages: ["r7", "later"] });
    assert.equal(w.error, undefined);
    assert.equal(balancer.picks.length, 1);
    assert.equal(balancer.picks[0]!.messageKey, "room:r7");
    assert.deepEqual(observer.events, ["started", "routed test a room:r7", "ended OK"]);
  });

  test("an asynchronous pick is awaited", async () => {
    balancer.choose = async (offered) => {
      await new Promise((r) => setTimeout(r, 20));
      return offered[1];
    };
    const w = await call(director(), "/test.v1.Probe/Raw", { metadata: good, messages: ["m"] });
    assert.equal(w.error, undefined);
    assert.deepEqual(w.header?.get("x-edge-node"), ["b"]);
  });

  test("no node chosen, or a balancer that fails: UNAVAILABLE, and no node is called", async () => {
    balancer.choose = () => undefined;
    assertCode(await call(director(), "/test.v1.Probe/Raw", { metadata: good, messages: ["m"] }), Code.Unavailable, /no live node for service test/);
    balancer.choose = () => {
      throw new Error("KV down");
    };
    assertCode(await call(director(), "/test.v1.Probe/Raw", { metadata: good, messages: ["m"] }), Code.Unavailable, /no node could be chosen for service test: KV down/);
    balancer.choose = () => Promise.reject(new Error("KV timeout"));
    assertCode(await call(director(), "/test.v1.Probe/Raw", { metadata: good, messages: ["m"] }), Code.Unavailable, /KV timeout/);
    assert.equal(balancer.started.length, 0);
    assert.equal(servedBy("a").length + servedBy("b").length, 0);
  });

  test("a node's own error reaches the client, counts against the node, and is not retried", async () => {
    const w = await call(director(), "/test.v1.Faults/Fail", { metadata: good, messages: ["m"] });
    assertCode(w, Code.FailedPrecondition, /node says no/);
    assert.equal(balancer.picks.length, 1);
    assert.deepEqual(balancer.ended, [["a", "error"]]);
    assert.equal(servedBy("a").length, 1);
    assert.equal(servedBy("b").length, 0);
  });
});

describe("retry", () => {
  test("a call that never reached its node is replayed whole on another node, once, excluding the first", async () => {
    nodes.set("test", "ghost", "a");
    const w = await call(director(), "/test.v1.Probe/Raw", { metadata: good, messages: ["m1", "m2", "m3"] });
    assert.equal(w.error, undefined, w.error?.rawMessage);
    assert.deepEqual(text(w.messages), ["m1", "m2", "m3"]);
    assert.deepEqual(balancer.picks.map((p) => p.exclude), [[], ["ghost"]]);
    assert.deepEqual(balancer.started, ["ghost", "a"]);
    assert.deepEqual(balancer.ended, [["ghost", "no_responders"], ["a", "ok"]]);
    assert.deepEqual(w.header?.get("x-edge-node"), ["a"]);
    assert.equal(servedBy("a").length, 1);
  });

  test("only once: a second node that is not there either ends the call UNAVAILABLE", async () => {
    nodes.set("test", "ghost1", "ghost2", "a");
    const w = await call(director(), "/test.v1.Probe/Raw", { metadata: good, messages: ["m"] });
    assertCode(w, Code.Unavailable, /no responders/);
    assert.equal(balancer.picks.length, 2);
    assert.deepEqual(balancer.ended, [["ghost1", "no_responders"], ["ghost2", "no_responders"]]);
    assert.equal(servedBy("a").length, 0);
  });

  test("no retry when the balancer has nothing else, or when retryUnreached is off", async () => {
    nodes.set("test", "ghost");
    assertCode(await call(director(), "/test.v1.Probe/Raw", { metadata: good, messages: ["m"] }), Code.Unavailable, /no responders/);
    assert.equal(balancer.picks.length, 2, "the retry asked the balancer, which had no other node");
    nodes.set("test", "ghost", "a");
    balancer.picks.length = 0;
    assertCode(await call(director({ retryUnreached: false }), "/test.v1.Probe/Raw", { metadata: good, messages: ["m"] }), Code.Unavailable, /no responders/);
    assert.equal(balancer.picks.length, 1);
    assert.equal(servedBy("a").length, 0);
  });
});

describe("the first request message", () => {
  test("no node is picked before the first message; a call cancelled before it never reaches the balancer", async () => {
    const c = startCall(director(), "/test.v1.Probe/Raw", { metadata: good, halfClose: false });
    // The call is authenticated and waits: give it the time a pick would take, then cancel.
    await eventually(() => auth.seen.length === 1, 5000, "the call authenticated");
    await new Promise((r) => setImmediate(r));
    assert.equal(balancer.picks.length, 0);
    c.cancel();
    assertCode(await c.result, Code.Canceled);
    assert.equal(balancer.picks.length, 0);
    assert.equal(servedBy("a").length + servedBy("b").length, 0);
  });

  test("a half-close without a message opens the call with the half-close", async () => {
    const w = await call(director(), "/test.v1.Probe/Raw", { metadata: good, messages: [] });
    assert.equal(w.error, undefined);
    assert.equal(w.messages.length, 0);
    assert.equal(balancer.picks.length, 1);
    assert.equal(servedBy("a").length, 1);
  });

  test("a service placed by its first message ends DEADLINE_EXCEEDED when none comes in firstMessageTimeoutMs", async () => {
    balancer.waitsForMessage = (service, method) => service === "test" && method === "test.v1.Probe/Raw";
    const c = startCall(director({ firstMessageTimeoutMs: 200 }), "/test.v1.Probe/Raw", { metadata: good, halfClose: false });
    assertCode(await c.result, Code.DeadlineExceeded, /no request message in 200 ms/);
    assert.equal(balancer.picks.length, 0);
  });

  test("the call's own deadline also bounds the wait for the first message", async () => {
    const c = startCall(director(), "/test.v1.Probe/Raw", { metadata: good, halfClose: false, timeoutMs: 150 });
    assertCode(await c.result, Code.DeadlineExceeded, /^deadline exceeded$/);
    assert.equal(balancer.picks.length, 0);
  });

  test("a token holds to its room: a first message naming another room is PERMISSION_DENIED before any pick", async () => {
    balancer.messageKey = (_s, _m, m) => dec.decode(m);
    const w = await call(director({ tokenRoomClaim: "sid" }), "/test.v1.Probe/Raw", { metadata: good, messages: ["room-2"] });
    assertCode(w, Code.PermissionDenied);
    assert.equal(balancer.picks.length, 0);
    const same = await call(director({ tokenRoomClaim: "sid" }), "/test.v1.Probe/Raw", { metadata: good, messages: ["room-1"] });
    assert.equal(same.error, undefined);
  });

  test("a later message naming another room ends the open call PERMISSION_DENIED, and the node is told", async () => {
    balancer.messageKey = (_s, _m, m) => dec.decode(m);
    const c = startCall(director({ tokenRoomClaim: "sid" }), "/test.v1.Probe/Raw", { metadata: good, messages: ["room-1"], halfClose: false });
    await eventually(() => c.written.messages.length === 1, 5000, "the first reply");
    c.push("room-2");
    assertCode(await c.result, Code.PermissionDenied);
    const nodeCall = servedBy("a")[0]!;
    await eventually(() => nodeCall.signal.aborted, 5000, "the node's call cancelled");
  });

  test("a first message whose room does not parse is the balancer's status (INVALID_ARGUMENT), before any pick", async () => {
    balancer.messageKey = () => {
      throw new ConnectError("join does not parse", Code.InvalidArgument);
    };
    const w = await call(director(), "/test.v1.Probe/Raw", { metadata: good, messages: ["garbage"] });
    assertCode(w, Code.InvalidArgument, /join does not parse/);
    assert.equal(balancer.picks.length, 0);
  });
});

describe("replies and lifecycle", () => {
  test("a unary method whose node ends OK without a message is UNIMPLEMENTED; a streaming one is OK", async () => {
    const kinds = { Silent: "unary" } as const;
    const d = director({ methodKind: (service, method) => (service === "test.v1.Faults" ? kinds[method as keyof typeof kinds] : undefined) });
    assertCode(await call(d, "/test.v1.Faults/Silent", { metadata: good, messages: ["m"] }), Code.Unimplemented, /missing output message/);
    const streaming = director({ methodKind: () => "server_streaming" });
    assert.equal((await call(streaming, "/test.v1.Faults/Silent", { metadata: good, messages: ["m"] })).error, undefined);
  });

  test("stopAccepting: new calls are UNAVAILABLE and never authenticated; cancelAll ends calls in flight UNAVAILABLE and cancels them at the node", async () => {
    const d = director();
    const c = startCall(d, "/test.v1.Probe/Wait", { metadata: good, messages: ["m"], halfClose: false });
    await eventually(() => servedBy("a").length === 1, 5000, "the call at the node");
    assert.equal(d.inFlight, 1);
    d.stopAccepting();
    assertCode(await call(d, "/test.v1.Probe/Raw", { metadata: good, messages: ["m"] }), Code.Unavailable, /shutting down/);
    assert.equal(auth.seen.length, 1);
    d.cancelAll("bye");
    assertCode(await c.result, Code.Unavailable, /^bye$/);
    await eventually(() => servedBy("a")[0]!.signal.aborted, 5000, "the node's call cancelled");
    assert.equal(await d.idle(5000), true);
    assert.equal(d.inFlight, 0);
  });
});
