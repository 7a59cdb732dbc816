/**
 * Hostile clients: connection and stream floods beyond the configured limits (`edge.max_calls_per_ip`
 * = 4, `edge.max_calls` = 8). For each protocol — Connect unary and gRPC-Web over HTTP/1.1,
 * grpc-websockets, native gRPC and Connect streaming over h2c — one address fills its share with
 * calls that wait on the node, the next call from it gets RESOURCE_EXHAUSTED (HTTP 429 for Connect
 * unary), and a client from another loopback address (127.0.0.2, by binding the client socket) is
 * still served; the share is free again once the calls end. Then the global cap across addresses,
 * and two floods from one address: 200 WebSockets and 300 concurrent HTTP requests — exactly the
 * allowed number run, the rest are refused at once, the node sees only the allowed ones, and the
 * gateway stays responsive (health, another address).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import net from "node:net";
import { Code } from "@connectrpc/connect";
import { startStack, type Stack } from "../../helpers/gateway.js";
import { eventually } from "../../helpers/nats.js";
import { envelope } from "../../helpers/grpc-web.js";
import { echoReq, echoRes } from "../../helpers/echo-schema.js";
import { assertNoLeaks, baseline, type Baseline } from "./leak-check.js";
import { httpRequest } from "./raw-http.js";
import { RawWebSocket } from "../../helpers/raw-websocket.js";
import { summary } from "../../helpers/soak.js";
import { grpcWsFrames } from "../../helpers/grpc-websockets-client.js";

const PER_IP = 4;
const TOTAL = 8;

let stack: Stack;
let base: Baseline;
let port: number;

before(async () => {
  stack = await startStack({ nodes: 1, config: { edge: { max_calls_per_ip: PER_IP, max_calls: TOTAL } } });
  port = Number(new URL(stack.url).port);
  base = await baseline(stack);
});
after(async () => {
  await stack?.stop();
});

const inFlight = () => stack.gw.gateway.director.inFlight;
const backendStreams = () => stack.nodes.reduce((n, { node }) => n + node.server.streamCount, 0);

type Proto = "connect-h1" | "grpc-web-h1" | "grpc-websockets" | "grpc-h2c" | "connect-stream-h2c";
const protos: Proto[] = ["connect-h1", "grpc-web-h1", "grpc-websockets", "grpc-h2c", "connect-stream-h2c"];

/** One call from `from`; `message` decides what the node does (`sleep:` waits). Resolves with its gRPC code. */
function call(proto: Proto, from: string, message: string): { code: Promise<number>; cancel(): void } {
  const ac = new AbortController();
  switch (proto) {
    case "connect-h1": {
      const code = httpRequest(`${stack.url}/demo.v1.EchoService/Echo`, { headers: { "content-type": "application/proto" }, body: echoReq(message), localAddress: from, signal: ac.signal }).then(
        (r) => {
          if (r.status === 200) return 0;
          const j = JSON.parse(Buffer.from(r.body).toString()) as { code: string };
          if (r.status === 429) assert.equal(j.code, "resource_exhausted");
          return j.code === "resource_exhausted" ? Code.ResourceExhausted : -r.status;
        },
        () => Code.Canceled,
      );
      return { code, cancel: () => ac.abort() };
    }
    case "grpc-web-h1": {
      const code = httpRequest(`${stack.url}/demo.v1.EchoService/EchoStream`, { headers: { "content-type": "application/grpc-web+proto", "x-grpc-web": "1" }, body: envelope(echoReq(message)), localAddress: from, signal: ac.signal }).then(
        (r) => {
          const s = r.headers["grpc-status"] ?? /grpc-status: ?(\d+)/.exec(Buffer.from(r.body).toString("latin1"))?.[1];
          return s === undefined ? -r.status : Number(s);
        },
        () => Code.Canceled,
      );
      return { code, cancel: () => ac.abort() };
    }
    case "grpc-websockets": {
      let ws: RawWebSocket | undefined;
      const code = (async () => {
        ws = await RawWebSocket.open(port, "/demo.v1.EchoService/EchoStream", {}, from);
        ws.send(Buffer.from("content-type: application/grpc-web+proto\r\n"));
        const m = echoReq(message);
        const f = Buffer.alloc(6 + m.length);
        f.writeUInt32BE(m.length, 2);
        f.set(m, 6);
        ws.send(f);
        ws.send(Buffer.of(1));
        await ws.waitClosed(120_000);
        const t = grpcWsFrames(ws.data).trailers;
        return t ? Number(t.get("grpc-status")) : Code.Canceled;
      })();
      return { code, cancel: () => ws?.destroy() };
    }
    case "grpc-h2c":
    case "connect-stream-h2c": {
      const session = http2.connect(stack.url, { createConnection: () => net.connect({ port, host: "127.0.0.1", localAddress: from }) });
      session.on("error", () => {});
      const grpc = proto === "grpc-h2c";
      const code = new Promise<number>((resolve) => {
        const req = session.request({ ":method": "POST", ":path": "/demo.v1.EchoService/EchoStream", "content-type": grpc ? "application/grpc" : "application/connect+proto", ...(grpc ? { te: "trailers" } : {}) });
        let status = Code.Canceled as number;
        const chunks: Buffer[] = [];
        req.on("response", (h) => {
          if (h["grpc-status"] !== undefined) status = Number(h["grpc-status"]);
        });
        req.on("trailers", (t) => (status = Number(t["grpc-status"])));
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("error", () => {});
        req.on("close", () => {
          if (!grpc) {
            const body = Buffer.concat(chunks);
            for (let i = 0; i + 5 <= body.length; ) {
              const len = body.readUInt32BE(i + 1);
              if (body[i]! & 0x02) {
                const j = JSON.parse(body.subarray(i + 5, i + 5 + len).toString()) as { error?: { code: string } };
                status = !j.error ? 0 : j.error.code === "resource_exhausted" ? Code.ResourceExhausted : -1;
              }
              i += 5 + len;
            }
          }
          session.close();
          resolve(status);
        });
        req.end(envelope(echoReq(message)));
      });
      return { code, cancel: () => session.destroy() };
    }
  }
}

const counts: Record<string, number> = { refused: 0, servedFromOtherAddress: 0, wsFlood: 0, httpFlood: 0 };

for (const proto of protos) {
  test(`${proto}: ${PER_IP} open calls fill an address's share; the next is RESOURCE_EXHAUSTED; 127.0.0.2 is served; the share frees up`, { timeout: 60_000 }, async () => {
    const open = Array.from({ length: PER_IP }, (_, i) => call(proto, "127.0.0.1", `sleep:${60_000 + i}`));
    await eventually(() => inFlight() === PER_IP && backendStreams() === PER_IP, 15_000, `${PER_IP} calls open`);
    for (let i = 0; i < 3; i++) {
      assert.equal(await call(proto, "127.0.0.1", "one too many").code, Code.ResourceExhausted, `${proto}: the excess call is refused`);
      counts.refused++;
    }
    assert.equal(backendStreams(), PER_IP, "refused calls never reached the node");
    assert.equal(await call(proto, "127.0.0.2", "other address").code, 0, `${proto}: another address is served`);
    counts.servedFromOtherAddress++;
    for (const c of open) c.cancel();
    await Promise.all(open.map((c) => c.code));
    await eventually(() => inFlight() === 0 && backendStreams() === 0, 15_000, "calls ended");
    // The share is free again (the per-address count went back to zero).
    const again = Array.from({ length: PER_IP }, () => call(proto, "127.0.0.1", "again"));
    for (const c of again) assert.equal(await c.code, 0, `${proto}: served again`);
  });
}

test(`the global cap: ${TOTAL} calls from two addresses fill it; a third address is refused; health answers; then served`, { timeout: 60_000 }, async () => {
  const open = [
    ...Array.from({ length: PER_IP }, (_, i) => call("grpc-websockets", "127.0.0.1", `sleep:${61_000 + i}`)),
    ...Array.from({ length: PER_IP }, (_, i) => call("grpc-h2c", "127.0.0.2", `sleep:${62_000 + i}`)),
  ];
  await eventually(() => inFlight() === TOTAL, 15_000, `${TOTAL} calls open`);
  for (const proto of protos) {
    assert.equal(await call(proto, "127.0.0.3", "over the global cap").code, Code.ResourceExhausted, proto);
    counts.refused++;
  }
  for (const path of ["/healthz", "/readyz", "/metrics"]) {
    const r = await fetch(stack.url + path);
    assert.equal(r.status, 200, path);
    await r.text();
  }
  for (const c of open) c.cancel();
  await Promise.all(open.map((c) => c.code));
  await eventually(() => inFlight() === 0, 15_000, "calls ended");
  assert.equal(await call("connect-h1", "127.0.0.3", "now there is room").code, 0);
});

test("a flood of 200 WebSockets and 300 concurrent HTTP requests from one address: exactly the share runs, the rest are refused at once", { timeout: 120_000 }, async () => {
  const ws = Array.from({ length: 200 }, (_, i) => call("grpc-websockets", "127.0.0.1", `sleep:${63_000 + i}`));
  // The refused ones end by themselves; the allowed ones wait on the node.
  const settled: number[] = [];
  ws.forEach((c) => void c.code.then((code) => settled.push(code)));
  await eventually(() => settled.length === 200 - PER_IP, 60_000, `${200 - PER_IP} WebSockets refused`);
  assert.ok(settled.every((c) => c === Code.ResourceExhausted), "every excess WebSocket got RESOURCE_EXHAUSTED");
  assert.equal(inFlight(), PER_IP);
  assert.equal(backendStreams(), PER_IP, "the node saw only the allowed calls");
  counts.wsFlood = 200;
  // Meanwhile another address is served.
  const other = await call("connect-h1", "127.0.0.2", "during the flood").code;
  assert.equal(other, 0);
  for (const c of ws) c.cancel();
  await eventually(() => inFlight() === 0, 15_000, "flood ended");

  // 300 concurrent HTTP requests.
  const burst = Array.from({ length: 300 }, (_, i) => call(i % 2 ? "connect-h1" : "grpc-web-h1", "127.0.0.1", `sleep:${64_000 + i}`));
  const done: number[] = [];
  burst.forEach((c) => void c.code.then((code) => done.push(code)));
  await eventually(() => done.length === 300 - PER_IP, 60_000, `${300 - PER_IP} requests refused`);
  assert.ok(done.every((c) => c === Code.ResourceExhausted), "every excess request got RESOURCE_EXHAUSTED (429)");
  assert.equal(backendStreams(), PER_IP);
  counts.httpFlood = 300;
  const r = await fetch(`${stack.url}/demo.v1.EchoService/Echo`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ message: "still here" }) });
  assert.equal(r.status, 429, "fetch from 127.0.0.1: this address's share is still full");
  await r.text();
  const o = await call("grpc-h2c", "127.0.0.2", "another address");
  assert.equal(await o.code, 0);
  for (const c of burst) c.cancel();
  await eventually(() => inFlight() === 0 && backendStreams() === 0, 15_000, "burst ended");
  assert.equal(echoRes(Buffer.from(await (await fetch(`${stack.url}/demo.v1.EchoService/Echo`, { method: "POST", headers: { "content-type": "application/proto" }, body: echoReq("free") })).arrayBuffer())).message, "free");
});

test("no leaks after the flood suite", async () => {
  await assertNoLeaks(stack, base);
  summary("floods", { ...counts, perIpLimit: PER_IP, globalLimit: TOTAL, protocols: protos.length });
});
