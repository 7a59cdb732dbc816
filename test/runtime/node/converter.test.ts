/**
 * The Node converter (src/runtime/node/) on real sockets, without the gateway: an HTTP/1.1 request
 * and a raw HTTP/2 stream put on the seam. What the protocols rely on: a body read whole stops at its
 * limit and leaves the connection usable; a body a protocol stops iterating is dropped, not left to
 * block the next request; a client's RST_STREAM fires the request's signal and makes the body throw
 * CANCELLED, never read as a half-close; a trailers-only answer is one HEADERS frame with END_STREAM.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import http2, { type ServerHttp2Stream, type IncomingHttpHeaders } from "node:http2";
import type { AddressInfo } from "node:net";
import { Code, ConnectError } from "@connectrpc/connect";
import { HeaderList } from "../../../src/protocol/header-list.js";
import type { UniversalRequest } from "../../../src/protocol/universal.js";
import { NodeRequest } from "../../../src/runtime/node/node-request.js";
import { NodeResponseSink } from "../../../src/runtime/node/response-sink.js";
import { h2StreamRequest } from "../../../src/runtime/node/h2-stream-request.js";
import { H2StreamSink } from "../../../src/runtime/node/h2-stream-sink.js";
import { eventually, within } from "../../helpers/wait.js";
import { RawH2 } from "../../helpers/raw-h2.js";

/** An HTTP/1.1 server whose requests go to `serve` on the seam. */
async function h1Server(serve: (req: UniversalRequest, sink: NodeResponseSink) => void): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
    const target = req.url!;
    const q = target.indexOf("?");
    serve(new NodeRequest(req, res, q === -1 ? target : target.slice(0, q), q === -1 ? "" : target.slice(q), HeaderList.fromRaw(req.rawHeaders)), new NodeResponseSink(res, 1024 * 1024));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const text = (s: string) => new TextEncoder().encode(s);

test("HTTP/1.1: readAll past its limit is RESOURCE_EXHAUSTED and the keep-alive connection serves the next request", async () => {
  const srv = await h1Server((req, sink) => {
    const body = req.body as { readAll(max: number): Promise<Uint8Array> };
    body.readAll(1000).then(
      (b) => sink.respond(200, new HeaderList(), text(`got ${b.byteLength}`)),
      (e: unknown) => sink.respond(429, new HeaderList(), text(String(ConnectError.from(e).code))),
    );
  });
  try {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const post = (n: number) =>
      new Promise<{ status: number; body: string; socket: unknown }>((resolve, reject) => {
        const r = http.request(srv.url + "/a.B/C", { method: "POST", agent }, (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString(), socket: r.socket }));
        });
        r.on("error", reject);
        r.end(Buffer.alloc(n));
      });
    const big = await within(post(200_000), 10_000, "the oversized request's answer");
    assert.deepEqual([big.status, big.body], [429, String(Code.ResourceExhausted)]);
    const small = await within(post(10), 10_000, "the next request's answer");
    assert.deepEqual([small.status, small.body], [200, "got 10"]);
    assert.equal(small.socket, big.socket, "the same connection");
    agent.destroy();
  } finally {
    await srv.close();
  }
});

test("HTTP/1.1: a body the protocol stops iterating is dropped; the connection serves the next request", async () => {
  let firstChunks = 0;
  const srv = await h1Server((req, sink) => {
    void (async () => {
      const it = (req.body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
      const first = await it.next();
      if (!first.done) firstChunks++;
      await it.return?.();
      sink.head(200, new HeaderList());
      sink.write(text("stopped"));
      sink.end();
    })();
  });
  try {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const post = (chunks: number) =>
      new Promise<{ body: string; socket: unknown }>((resolve, reject) => {
        const r = http.request(srv.url + "/a.B/C", { method: "POST", agent, headers: { "transfer-encoding": "chunked" } }, (res) => {
          const got: Buffer[] = [];
          res.on("data", (c: Buffer) => got.push(c));
          res.on("end", () => resolve({ body: Buffer.concat(got).toString(), socket: r.socket }));
        });
        r.on("error", reject);
        for (let i = 0; i < chunks; i++) r.write(Buffer.alloc(16 * 1024));
        r.end();
      });
    const a = await within(post(64), 10_000, "the first answer");
    const b = await within(post(1), 10_000, "the second answer");
    assert.deepEqual([a.body, b.body], ["stopped", "stopped"]);
    assert.equal(b.socket, a.socket, "the same connection");
    assert.equal(firstChunks, 2);
    agent.destroy();
  } finally {
    await srv.close();
  }
});

test("HTTP/2: a client's RST_STREAM fires the signal and the body throws CANCELLED, never a clean end", async () => {
  const seen: string[] = [];
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  let opened!: () => void;
  const streamIn = new Promise<void>((r) => (opened = r));
  const server = http2.createServer();
  server.on("stream", (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    stream.on("error", () => {});
    const req = h2StreamRequest(stream, headers);
    (req.signal as (onGone: () => void) => () => void)(() => seen.push("signal"));
    void (async () => {
      try {
        for await (const _ of req.body as AsyncIterable<Uint8Array>) seen.push("chunk");
        seen.push("end");
      } catch (e) {
        seen.push(`throw ${ConnectError.from(e).code}`);
      }
      done();
    })();
    opened();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  // A bare RST_STREAM on an open stream (Node's own client sends END_STREAM first, which is a half-close).
  const raw = await RawH2.connect((server.address() as AddressInfo).port);
  try {
    const id = raw.request("/a.B/C", { "content-type": "application/grpc" });
    await within(streamIn, 10_000, "the stream at the server");
    raw.socket.write(RawH2.rstFrame(id));
    await within(finished, 10_000, "the server's body loop to finish");
    assert.deepEqual(seen, ["signal", `throw ${Code.Canceled}`]);
  } finally {
    raw.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test("HTTP/2: a whole answer without body is one HEADERS frame with END_STREAM; a streamed one ends with real trailers", async () => {
  const server = http2.createServer();
  server.on("stream", (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    const sink = new H2StreamSink(stream);
    const h = new HeaderList();
    if (headers[":path"] === "/only/Headers") {
      h.append("grpc-status", "5");
      h.append("x-md", "a");
      h.append("x-md", "b");
      sink.respond(200, h);
      return;
    }
    h.append("content-type", "application/grpc");
    sink.head(200, h);
    void sink.write(text("body"));
    const t = new HeaderList();
    t.append("grpc-status", "0");
    sink.end(t);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const client = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  try {
    const ask = (path: string) =>
      new Promise<{ headers: http2.IncomingHttpHeaders; endStreamOnHeaders: boolean; trailers: http2.IncomingHttpHeaders | undefined; body: string }>((resolve, reject) => {
        const s = client.request({ ":method": "POST", ":path": path }, { endStream: true });
        let headers!: http2.IncomingHttpHeaders;
        let endStreamOnHeaders = false;
        let trailers: http2.IncomingHttpHeaders | undefined;
        const chunks: Buffer[] = [];
        s.on("response", (h, flags) => {
          headers = h;
          endStreamOnHeaders = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
        });
        s.on("trailers", (t) => (trailers = t));
        s.on("data", (c: Buffer) => chunks.push(c));
        s.on("end", () => resolve({ headers, endStreamOnHeaders, trailers, body: Buffer.concat(chunks).toString() }));
        s.on("error", reject);
      });
    const only = await within(ask("/only/Headers"), 10_000, "the trailers-only answer");
    assert.equal(only.endStreamOnHeaders, true);
    assert.equal(only.headers["grpc-status"], "5");
    assert.equal(only.headers["x-md"], "a, b", "both values (sent as two fields)");
    assert.equal(only.trailers, undefined);
    const streamed = await within(ask("/with/Trailers"), 10_000, "the streamed answer");
    assert.equal(streamed.endStreamOnHeaders, false);
    assert.equal(streamed.body, "body");
    assert.equal(streamed.trailers?.["grpc-status"], "0");
  } finally {
    client.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test("HTTP/2: a sink on a stream the client reset, its body unread (closed, not yet destroyed), sends nothing and never throws", async () => {
  const outcomes: string[] = [];
  const arrived = new Map<string, () => void>();
  const atServer = (path: string) => new Promise<void>((r) => arrived.set(path, r));
  const server = http2.createServer();
  server.on("stream", (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    stream.on("error", () => {});
    arrived.get(String(headers[":path"]))?.();
    // Nobody reads the body: after the reset Node keeps the stream closed but not destroyed.
    stream.once("aborted", () => {
      const state = `closed=${stream.closed} destroyed=${stream.destroyed}`;
      for (const [mode, sink] of [["grpc", new H2StreamSink(stream)], ["app", new H2StreamSink(stream, { trailers: false })]] as const) {
        const what = `${headers[":path"]} ${mode}`;
        try {
          const h = new HeaderList();
          h.append("content-type", "application/grpc");
          if (headers[":path"] === "/a.B/Head") {
            sink.head(200, h);
            void sink.write(text("x"));
            sink.end(new HeaderList());
          } else sink.respond(200, h, text("x"));
          outcomes.push(`${what}: ok ${state}`);
        } catch (e) {
          outcomes.push(`${what}: threw ${(e as NodeJS.ErrnoException).code} ${state}`);
        }
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const raw = await RawH2.connect((server.address() as AddressInfo).port);
  try {
    for (const path of ["/a.B/Respond", "/a.B/Head"]) {
      const there = atServer(path);
      const id = raw.request(path, { "content-type": "application/grpc" }, text("unread"));
      await within(there, 10_000, `${path} at the server`);
      raw.socket.write(RawH2.rstFrame(id));
      await eventually(() => outcomes.some((o) => o.startsWith(path + " app")), 10_000, `the sinks were used on ${path}`);
    }
  } finally {
    raw.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
  const state = "ok closed=true destroyed=false";
  assert.deepEqual(outcomes, [`/a.B/Respond grpc: ${state}`, `/a.B/Respond app: ${state}`, `/a.B/Head grpc: ${state}`, `/a.B/Head app: ${state}`]);
});
