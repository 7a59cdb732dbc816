/**
 * The running gateway (Node, one port) with connect-node clients, over a real nats-server to demo
 * nodes and a probe backend: Connect (HTTP/1.1 and h2c), gRPC-Web, native gRPC over h2c; every call
 * kind the transport can carry; x-edge-node, backend headers and trailers, errors, metadata hygiene.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { EchoService } from "../../../src/gen/demo/v1/echo_pb.js";
import { startStack, type Stack } from "../../helpers/gateway.js";
import { echoServiceIn } from "../../helpers/echo-schema.js";
import { startProbe, type Probe } from "../../helpers/probe-backend.js";
import { gen, pushable } from "../../helpers/streams.js";

let stack: Stack;
let probe: Probe;
let h2: Http2SessionManager;
const ProbeService = echoServiceIn("probe.v1");
let transports: Record<"connect-h1" | "connect-h2" | "grpc-web-h1" | "grpc-web-h2" | "grpc-h2c", Transport>;

before(async () => {
  stack = await startStack({ config: { edge: { routes: { "probe.v1": "probe" } } } });
  probe = await startProbe(stack.nats, { nid: "probe-clients", service: "probe", packages: ["probe.v1"] });
  await stack.waitForNodes(1, "probe");
  h2 = new Http2SessionManager(stack.url);
  const baseUrl = stack.url;
  transports = {
    "connect-h1": createConnectTransport({ baseUrl, httpVersion: "1.1" }),
    "connect-h2": createConnectTransport({ baseUrl, httpVersion: "2", sessionManager: h2 }),
    "grpc-web-h1": createGrpcWebTransport({ baseUrl, httpVersion: "1.1" }),
    "grpc-web-h2": createGrpcWebTransport({ baseUrl, httpVersion: "2", sessionManager: h2 }),
    "grpc-h2c": createGrpcTransport({ baseUrl, sessionManager: h2 }),
  };
});
after(async () => {
  h2?.abort();
  await probe?.close();
  await stack?.stop();
});

const demoNids = () => stack.nodes.map((n) => n.node.nid);
const each = () => Object.entries(transports) as [string, Transport][];
/** Transports that carry client streaming and bidi (HTTP/2). */
const streaming = () => each().filter(([name]) => name.endsWith("h2") || name === "grpc-h2c");

test("unary on every transport: x-edge-node names the serving node; backend headers and trailers come back", async () => {
  for (const [name, t] of each()) {
    let header: Headers | undefined;
    let trailer: Headers | undefined;
    const r = await createClient(EchoService, t).echo({ message: "header:x-a=b" }, { onHeader: (h) => (header = h), onTrailer: (h) => (trailer = h) });
    assert.equal(r.message, "header:x-a=b", name);
    assert.ok(demoNids().includes(r.node), `${name}: served by a demo node`);
    assert.equal(header?.get("x-edge-node"), r.node, `${name}: x-edge-node is the serving nid`);
    assert.equal(header?.get("x-a"), "b", `${name}: backend header`);
    assert.equal(trailer?.get("x-a-trailer"), "b", `${name}: backend trailer (ION drops them)`);
  }
});

test("server streaming on every transport, in order, with header and trailer", async () => {
  for (const [name, t] of each()) {
    let header: Headers | undefined;
    let trailer: Headers | undefined;
    const got: string[] = [];
    const nodes = new Set<string>();
    for await (const r of createClient(ProbeService, t).echoStream({ message: "s", repeat: 20 }, { onHeader: (h) => (header = h), onTrailer: (h) => (trailer = h) })) {
      got.push(r.message);
      nodes.add(r.node);
    }
    assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => `s ${i}`), name);
    assert.deepEqual([...nodes], [probe.nid], name);
    assert.equal(header?.get("x-edge-node"), probe.nid, name);
    assert.equal(header?.get("x-probe"), probe.nid, name);
    assert.equal(trailer?.get("x-probe-trailer"), probe.nid, name);
  }
});

test("client streaming over HTTP/2 (Connect, gRPC-Web, gRPC)", async () => {
  for (const [name, t] of streaming()) {
    let trailer: Headers | undefined;
    const r = await createClient(EchoService, t).echoClientStream(gen([{ message: "a" }, { message: "b" }, { message: "c" }], 5), { onTrailer: (h) => (trailer = h) });
    assert.equal(r.message, "a b c", name);
    assert.ok(demoNids().includes(r.node), name);
    assert.ok(trailer, name);
  }
});

test("bidi over HTTP/2, interleaved: each reply arrives before the next request is sent", async () => {
  for (const [name, t] of streaming()) {
    const q = pushable<{ message: string }>();
    const it = createClient(ProbeService, t).echoBidi(q.iterable)[Symbol.asyncIterator]();
    for (const m of ["one", "two", "three"]) {
      q.push({ message: m });
      const r = await it.next();
      assert.equal(r.done, false, name);
      assert.equal(r.value!.message, m, name);
    }
    q.end();
    assert.equal((await it.next()).done, true, name);
    const c = await probe.call("EchoBidi", "one");
    assert.deepEqual(c.requests, ["one", "two", "three"], name);
  }
});

test("errors keep their code, message, backend headers and trailers on every transport", async () => {
  for (const [name, t] of each()) {
    await assert.rejects(createClient(ProbeService, t).echo({ message: "error:7:denied" }), (e: unknown) => {
      assert.ok(e instanceof ConnectError, name);
      assert.equal(e.code, Code.PermissionDenied, name);
      assert.equal(e.rawMessage, "denied", name);
      assert.equal(e.metadata.get("x-probe-err-trailer"), "1", `${name}: trailers of a failed call`);
      return true;
    });
    // A failure with nothing before it (trailers-only on gRPC-Web / gRPC).
    await assert.rejects(createClient(EchoService, t).echo({ message: "error:5:no such thing" }), (e: unknown) => {
      assert.ok(e instanceof ConnectError, name);
      assert.equal(e.code, Code.NotFound, name);
      assert.equal(e.rawMessage, "no such thing", name);
      return true;
    });
    // Errors in a server stream after messages.
    const got: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const r of createClient(EchoService, t).echoStream({ message: "error:9:precondition", repeat: 3 })) got.push(r.message);
      })(),
      (e: unknown) => e instanceof ConnectError && e.code === Code.FailedPrecondition && e.rawMessage === "precondition",
      name,
    );
  }
});

test("request metadata reaches the backend; authorization, cookie and forged claim headers do not", async () => {
  for (const [name, t] of each()) {
    const tag = `md-${name}`;
    await createClient(ProbeService, t).echo(
      { message: tag },
      {
        headers: {
          "x-custom": `v-${name}`,
          "x-multi": "1",
          authorization: "Bearer secret-token",
          cookie: "session=abc",
          "x-ion-uid": "forged",
          "x-ion-sid": "forged",
          "x-edge-internal": "forged",
        },
      },
    );
    const c = await probe.call("Echo", tag);
    assert.deepEqual(c.metadata.get("x-custom"), [`v-${name}`], name);
    assert.deepEqual(c.metadata.get("x-multi"), ["1"], name);
    for (const k of ["authorization", "cookie", "x-ion-uid", "x-ion-sid", "x-edge-internal"]) assert.equal(c.metadata.get(k), undefined, `${name}: ${k} not forwarded`);
    for (const k of c.metadata.keys()) {
      assert.ok(!/^(content-type|content-length|te|host|connection|x-grpc-web|connect-.*|grpc-(timeout|encoding|accept-encoding)|:.*)$/.test(k), `${name}: transport header ${k} is not metadata`);
    }
  }
});
