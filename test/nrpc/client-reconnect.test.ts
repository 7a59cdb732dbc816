// In-flight nats-grpc calls when one side's NATS connection is lost and comes back (issue 18: a hub
// server SIGKILLed under load). Each side reaches a real nats-server through its own TCP proxy, and
// cutting that proxy's sockets makes only that side disconnect and reconnect, as when the server it
// was on dies and it fails over. A call whose stream the lost connection carried ends UNAVAILABLE at
// once — not at its deadline (10 s here), nor never without one.
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import type { NatsConnection } from "@nats-io/nats-core";
import { echoServiceImpl } from "../../src/demo/echo-service.js";
import { EchoService } from "../../src/gen/demo/v1/echo_pb.js";
import { connectNats } from "../../src/runtime/node/nats-connect.js";
import { NrpcClient, NrpcServer, createServiceClient, registerService, type ServerCall } from "../../src/nrpc/index.js";
import { registerProbe } from "../helpers/probe-service.js";
import { eventually, natsServer, type NatsServer } from "../helpers/nats.js";

/** A TCP proxy to `port` whose open connections can be cut (both sockets destroyed). */
interface CuttableProxy {
  readonly url: string;
  cut(): number;
  close(): Promise<void>;
}

async function cuttableProxy(port: number): Promise<CuttableProxy> {
  const open = new Set<net.Socket>();
  const srv = net.createServer((inbound) => {
    const outbound = net.connect({ port, host: "127.0.0.1" });
    for (const s of [inbound, outbound]) {
      open.add(s);
      s.on("close", () => open.delete(s));
      s.on("error", () => s.destroy()); // a cut socket's peer sees ECONNRESET: that is the point
    }
    inbound.pipe(outbound).pipe(inbound);
    inbound.on("close", () => outbound.destroy());
    outbound.on("close", () => inbound.destroy());
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const addr = srv.address() as net.AddressInfo;
  return {
    url: `nats://127.0.0.1:${addr.port}`,
    cut() {
      const n = open.size;
      for (const s of open) s.destroy();
      return n;
    },
    close: () => {
      for (const s of open) s.destroy();
      return new Promise((r) => srv.close(() => r()));
    },
  };
}

/** Connects through `proxy`, reconnecting to it forever, quickly. */
function viaProxy(proxy: CuttableProxy, name: string): Promise<NatsConnection> {
  return connectNats(proxy.url, { name, maxReconnectAttempts: -1, reconnectTimeWait: 100, reconnectJitter: 0 });
}

/** Resolves on the status event `type` of `nc`. */
async function statusEvent(nc: NatsConnection, type: string): Promise<void> {
  for await (const st of nc.status()) if (st.type === type) return;
}

/** Opens a call and resolves with how it ended and after how long (the call's own deadline bounds it). */
function callEnd(client: NrpcClient, nid: string, method: string, timeoutMs: number, first?: Uint8Array) {
  const t0 = Date.now();
  let replies = 0;
  let ms = 0;
  const ended = new Promise<ConnectError | undefined>((resolve) => {
    const s = client.open(nid, "test.v1.Probe", method, { timeoutMs }, { onMessage: () => void replies++, onEnd: (e) => ((ms = Date.now() - t0), resolve(e)) });
    if (first) s.send(first);
  });
  return { ended, replies: () => replies, ms: () => ms };
}

describe("nrpc calls across a lost NATS connection", () => {
  let server: NatsServer;
  let nodeProxy: CuttableProxy;
  let gwProxy: CuttableProxy;
  let nodeConn: NatsConnection;
  let gwConn: NatsConnection;
  let srv: NrpcServer;
  let client: NrpcClient;
  const seen: ServerCall[] = [];

  before(async () => {
    server = await natsServer();
    nodeProxy = await cuttableProxy(server.port);
    gwProxy = await cuttableProxy(server.port);
    nodeConn = await viaProxy(nodeProxy, "node");
    gwConn = await viaProxy(gwProxy, "gateway");
    srv = new NrpcServer(nodeConn, { nid: "reconnect-node" });
    registerService(srv, EchoService, echoServiceImpl(srv.nid));
    registerProbe(srv, seen); // Wait: a slow unary until aborted; Raw: bidi echo
    await nodeConn.flush();
    client = new NrpcClient(gwConn, { nid: "reconnect-gw" });
  });
  after(async () => {
    client.close();
    srv.close();
    await gwConn.close();
    await nodeConn.close();
    await nodeProxy.close();
    await gwProxy.close();
    await server.stop();
  });

  for (const method of ["Wait", "Raw"] as const) {
    test(`the node reconnects: its in-flight ${method === "Wait" ? "unary" : "bidi"} call ends UNAVAILABLE, not at its deadline`, async () => {
      seen.length = 0;
      const call = callEnd(client, srv.nid, method, 10_000, new Uint8Array([1]));
      await eventually(() => seen.length === 1 && (method === "Wait" || call.replies() === 1), 5000, "the node has the call");
      const reconnected = statusEvent(nodeConn, "reconnect");
      assert.ok(nodeProxy.cut() > 0, "the node's connection was cut");
      const err = await call.ended;
      await reconnected;
      console.log(`${method}: ended ${err?.code === undefined ? "OK" : Code[err.code]} ${call.ms()} ms after it started (deadline 10000 ms): ${err?.rawMessage}`);
      assert.equal(err?.code, Code.Unavailable, `ended ${err?.code === undefined ? "OK" : Code[err.code]}: ${err?.rawMessage}`);
      assert.match(err!.rawMessage, /node lost its NATS connection/);
      assert.ok(seen[0]!.signal.aborted, "the handler was aborted");
      assert.equal((seen[0]!.signal.reason as ConnectError).code, Code.Unavailable);
      assert.equal(srv.streamCount, 0, "no stream left on the node");
      // the node serves new calls after the reconnect
      const res = await createServiceClient(client, srv.nid, EchoService).echo({ message: "again" }, { timeoutMs: 5000 });
      assert.equal(res.message, "again");
    });
  }

  test("the gateway reconnects: its in-flight call ends UNAVAILABLE, not at its deadline", async () => {
    seen.length = 0;
    const call = callEnd(client, srv.nid, "Raw", 10_000, new Uint8Array([1]));
    await eventually(() => call.replies() === 1, 5000, "the echo");
    const reconnected = statusEvent(gwConn, "reconnect");
    assert.ok(gwProxy.cut() > 0, "the gateway's connection was cut");
    const err = await call.ended;
    console.log(`gateway side: ended ${err?.code === undefined ? "OK" : Code[err.code]} ${call.ms()} ms after it started (deadline 10000 ms): ${err?.rawMessage}`);
    assert.equal(err?.code, Code.Unavailable);
    await reconnected;
    const res = await createServiceClient(client, srv.nid, EchoService).echo({ message: "again" }, { timeoutMs: 5000 });
    assert.equal(res.message, "again");
  });
});
