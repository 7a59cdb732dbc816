// The nats-grpc client and server against a real nats-server, over WebSocket and TCP: all four call
// kinds, metadata/headers/trailers, statuses, cancel and deadline reaching the server, no responders,
// 1,000 concurrent calls, and no leaked subscriptions.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { NatsConnection } from "@nats-io/nats-core";
import { echoServiceImpl } from "../../src/demo/echo-service.js";
import { EchoRequestSchema, EchoService } from "../../src/gen/demo/v1/echo_pb.js";
import { NrpcClient, NrpcServer, createServiceClient, encodeRequestEnd, registerService, type ServerCall } from "../../src/nrpc/index.js";
import { registerProbe } from "../helpers/probe-service.js";
import { eventually, natsServer, subsOf, tcp, ws, type NatsServer } from "../helpers/nats.js";

let server: NatsServer;
before(async () => {
  server = await natsServer();
});
after(async () => {
  await server.stop();
});

async function* from<T>(items: T[], gapMs = 0): AsyncIterable<T> {
  for (const i of items) {
    if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
    yield i;
  }
}

for (const transport of ["websocket", "tcp"] as const) {
  describe(`nrpc over ${transport}`, () => {
    let serverConn: NatsConnection;
    let clientConn: NatsConnection;
    let srv: NrpcServer;
    let client: NrpcClient;
    const seen: ServerCall[] = [];
    const clientName = `client-${transport}`;

    before(async () => {
      // the server node always on the other transport, to cross both
      serverConn = transport === "websocket" ? await tcp(server, "srv") : await ws(server, "srv");
      clientConn = transport === "websocket" ? await ws(server, clientName) : await tcp(server, clientName);
      srv = new NrpcServer(serverConn, { nid: `demo-${transport}` });
      registerService(srv, EchoService, echoServiceImpl(srv.nid));
      registerProbe(srv, seen); // Wait: a slow unary until aborted; Raw: bidi echo
      await serverConn.flush();
      client = new NrpcClient(clientConn, { nid: `edge-${transport}` });
    });
    after(async () => {
      client.close();
      srv.close();
      await clientConn.close();
      await serverConn.close();
    });

    test("unary", async () => {
      const c = createServiceClient(client, srv.nid, EchoService);
      const res = await c.echo({ message: "hello" });
      assert.equal(res.message, "hello");
      assert.equal(res.node, srv.nid);
    });

    test("an empty request message is an empty message, not EOF", async () => {
      const c = createServiceClient(client, srv.nid, EchoService);
      const res = await c.echo({});
      assert.equal(res.message, "");
      assert.equal(res.node, srv.nid);
    });

    test("server streaming", async () => {
      const c = createServiceClient(client, srv.nid, EchoService);
      const got: string[] = [];
      for await (const r of c.echoStream({ message: "m", repeat: 5 })) got.push(r.message);
      assert.deepEqual(got, ["m 0", "m 1", "m 2", "m 3", "m 4"]);
    });

    test("client streaming", async () => {
      const c = createServiceClient(client, srv.nid, EchoService);
      const res = await c.echoClientStream(from([{ message: "a" }, { message: "b" }, { message: "c" }], 2));
      assert.equal(res.message, "a b c");
    });

    test("bidi streaming, interleaved", async () => {
      const c = createServiceClient(client, srv.nid, EchoService);
      const got: string[] = [];
      for await (const r of c.echoBidi(from(["x", "y", "z"].map((message) => ({ message })), 5))) got.push(r.message);
      assert.deepEqual(got, ["x", "y", "z"]);
    });

    test("500 frames of one stream are processed in order", async () => {
      const msgs = Array.from({ length: 500 }, (_, i) => new TextEncoder().encode(String(i)));
      const got: string[] = [];
      const { rawCall } = await import("../../src/nrpc/typed.js");
      for await (const r of rawCall(client, srv.nid, "test.v1.Probe", "Raw", msgs)) got.push(new TextDecoder().decode(r));
      assert.deepEqual(got, msgs.map((_, i) => String(i)));
    });

    test("metadata reaches the server; headers and trailers come back", async () => {
      const c = createServiceClient(client, srv.nid, EchoService);
      seen.length = 0;
      const { rawCall } = await import("../../src/nrpc/typed.js");
      const result: { header?: Map<string, string[]>; trailer?: Map<string, string[]>; nid?: string } = {};
      const md = new Map([["x-room", ["r1", "r2"]], ["x-user", ["u"]]]);
      for await (const _ of rawCall(client, srv.nid, "test.v1.Probe", "Raw", [new Uint8Array([1])], { metadata: md })) break;
      assert.deepEqual(seen[0]?.metadata.get("x-room"), ["r1", "r2"]);
      assert.equal(seen[0]?.peerNid, client.nid);
      const res = await c.echo({ message: "header:x-k=v1" }, { result });
      assert.equal(res.message, "header:x-k=v1");
      assert.deepEqual(result.header?.get("x-k"), ["v1"]);
      assert.equal(result.nid, srv.nid);
      assert.deepEqual(result.trailer?.get("x-k-trailer"), ["v1"]);
    });

    test("error status round trip", async () => {
      const c = createServiceClient(client, srv.nid, EchoService);
      await assert.rejects(c.echo({ message: "error:7:no entry" }), (e: ConnectError) => {
        assert.equal(e.code, Code.PermissionDenied);
        assert.equal(e.rawMessage, "no entry");
        return true;
      });
    });

    test("unknown method gets UNIMPLEMENTED", async () => {
      const { rawCall } = await import("../../src/nrpc/typed.js");
      await assert.rejects(
        (async () => {
          for await (const _ of rawCall(client, srv.nid, "demo.v1.EchoService", "Nope", [new Uint8Array()]));
        })(),
        (e: ConnectError) => e.code === Code.Unimplemented,
      );
    });

    test("a subject nobody serves fails fast with UNAVAILABLE", async () => {
      const c = createServiceClient(client, "nobody-here", EchoService);
      const t0 = Date.now();
      await assert.rejects(c.echo({ message: "x" }), (e: ConnectError) => e.code === Code.Unavailable);
      assert.ok(Date.now() - t0 < 5000, "did not hang");
    });

    test("cancel reaches the server as End{CANCELLED}", async () => {
      seen.length = 0;
      const ended = new Promise<ConnectError | undefined>((resolve) => {
        const s = client.open(srv.nid, "test.v1.Probe", "Wait", {}, { onMessage() {}, onEnd: (e) => resolve(e) });
        s.send(new Uint8Array([1]));
        void eventually(() => seen.length === 1).then(() => s.cancel(Code.Canceled, "bye"));
      });
      assert.equal((await ended)?.code, Code.Canceled);
      const call = seen[0]!;
      await eventually(() => call.signal.aborted, 2000, "server abort");
      assert.equal((call.signal.reason as ConnectError).code, Code.Canceled);
    });

    test("an AbortSignal cancels the call and the server sees it", async () => {
      seen.length = 0;
      const ac = new AbortController();
      const ended = new Promise<ConnectError | undefined>((resolve) => {
        client.open(srv.nid, "test.v1.Probe", "Wait", { signal: ac.signal }, { onMessage() {}, onEnd: (e) => resolve(e) });
      });
      await eventually(() => seen.length === 1);
      ac.abort();
      assert.equal((await ended)?.code, Code.Canceled);
      await eventually(() => seen[0]!.signal.aborted, 2000, "server abort");
    });

    test("deadline: DEADLINE_EXCEEDED locally and at the server", async () => {
      seen.length = 0;
      const err = await new Promise<ConnectError | undefined>((resolve) => {
        client.open(srv.nid, "test.v1.Probe", "Wait", { timeoutMs: 100 }, { onMessage() {}, onEnd: (e) => resolve(e) });
      });
      assert.equal(err?.code, Code.DeadlineExceeded);
      await eventually(() => seen[0]?.signal.aborted, 2000, "server abort");
      assert.equal((seen[0]!.signal.reason as ConnectError).code, Code.DeadlineExceeded);
    });

    test("closeStreams(peerNid) cancels a dead peer's streams", async () => {
      seen.length = 0;
      const ended = new Promise<void>((resolve) => {
        client.open(srv.nid, "test.v1.Probe", "Wait", {}, { onMessage() {}, onEnd: () => resolve() });
      });
      await eventually(() => seen.length === 1);
      assert.equal(srv.closeStreams(client.nid), 1);
      assert.ok(seen[0]!.signal.aborted);
      // the client side of that stream is ended by its own closeStreams(nid) (discovery: node down)
      assert.equal(client.closeStreams(srv.nid), 1);
      await ended;
    });

    test("stray End frames for unknown streams are ignored", async () => {
      const before = srv.streamCount;
      const subject = `nrpc.${srv.nid}.demo.v1.EchoService.Echo`;
      for (let i = 0; i < 10; i++) clientConn.publish(subject, encodeRequestEnd(), { reply: `_INBOX.stray.${i}` });
      await clientConn.flush();
      const c = createServiceClient(client, srv.nid, EchoService);
      assert.equal((await c.echo({ message: "still fine" })).message, "still fine");
      assert.equal(srv.streamCount, before);
    });

    test("1,000 concurrent calls, then no leaked streams or subscriptions", async () => {
      const c = createServiceClient(client, srv.nid, EchoService);
      const subsBefore = await subsOf(server, clientName);
      const res = await Promise.all(Array.from({ length: 1000 }, (_, i) => c.echo({ message: `m${i}` })));
      res.forEach((r, i) => assert.equal(r.message, `m${i}`));
      assert.equal(client.inFlight, 0);
      await eventually(() => srv.streamCount === 0, 2000, "server streams to finish");
      // one shared inbox subscription per connection, whatever the number of calls
      assert.equal(subsBefore, 1);
      assert.equal(await subsOf(server, clientName), 1);
    });

    test("request bytes are forwarded untouched", async () => {
      const raw = toBinary(EchoRequestSchema, create(EchoRequestSchema, { message: "ü✓", repeat: 3 }));
      const { rawCall } = await import("../../src/nrpc/typed.js");
      const out: Uint8Array[] = [];
      for await (const r of rawCall(client, srv.nid, "test.v1.Probe", "Raw", [raw])) out.push(r);
      assert.deepEqual(Buffer.from(out[0]!), Buffer.from(raw));
    });
  });
}
