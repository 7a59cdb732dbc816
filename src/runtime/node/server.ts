/**
 * One port for everything on Node: HTTP/1.1 (the gate and the Hono app, WebSocket upgrades) and
 * cleartext HTTP/2 (native gRPC, and Connect / gRPC-Web over h2c through the gate or the app).
 *
 * Node's `http2.createServer({ allowHTTP1: true })` only falls back to HTTP/1 on TLS (ALPN), so for
 * cleartext this server peeks at the first bytes of each connection: the HTTP/2 client preface
 * (`PRI * HTTP/2.0`) goes to an `http2` server, anything else to an `http` server. Both hand requests
 * to one listener: first the gate (the Node entry's, ./gate.ts: every RPC, native gRPC included, as
 * the one dispatcher decides), then `fallback` (e.g. `getRequestListener(app.fetch)` of
 * `@hono/node-server`, which accepts both request kinds). Without a gate (tests, `gate: false`),
 * native gRPC over HTTP/2 is served here (`serveGrpc` on the seam, its request and sink on the raw
 * stream: `./h2-stream-request.ts`, `./h2-stream-sink.ts`).
 * Connections are bounded in time and in what they hold: HTTP/1.1 header and request timeouts,
 * idle connections and sessions closed, HTTP/2 response bytes queued for clients that do not read
 * bounded per connection and per stall time (`./write-guard.ts`), HTTP/2 streams abandoned before
 * their response (rapid reset) rate-limited per connection and per client address (`./stream-rate.ts`).
 */
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import http2, { type Http2ServerRequest, type Http2ServerResponse, type Http2Session } from "node:http2";
import net, { type AddressInfo } from "node:net";
import type { ServeContext } from "../../protocol/options.js";
import { isGrpcContentType, serveGrpc } from "../../protocol-grpc/handler.js";
import { h2StreamRequest } from "./h2-stream-request.js";
import { H2StreamSink } from "./h2-stream-sink.js";
import { createWriteGuard } from "./write-guard.js";
import { createStreamRateLimit, type StreamRate } from "./stream-rate.js";

/** A Node request listener that accepts HTTP/1.1 and HTTP/2 compatibility requests. */
export type NodeRequestListener = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => void;

/**
 * Options of {@link createGrpcRequestListener} and {@link createGrpcH2cServer}: the transport's own.
 * What native gRPC is served with (call handler, protocol limits) is the {@link ServeContext} they take.
 */
export interface GrpcServerOptions {
  /**
   * Tried first on every request: true when it served it (the Node entry's gate, ./gate.ts, which
   * serves every RPC, native gRPC included, as the dispatcher decides). Default: none.
   */
  gate?: (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => boolean;
  /** Every request that is neither native gRPC served here nor taken by the gate. Default: 404. */
  fallback?: NodeRequestListener;
  /** {@link createGrpcH2cServer}: a connection that sends no request bytes for this long is closed. Default 10 000 ms; 0 = never. */
  firstBytesTimeoutMs?: number;
  /** {@link createGrpcH2cServer}: an HTTP/2 session without an open stream for this long is closed (GOAWAY; clients reconnect). Default 60 000 ms; 0 = never. */
  idleSessionTimeoutMs?: number;
  /** {@link createGrpcH2cServer}: response bytes one HTTP/2 connection may hold queued for its client; a stream writing past it is reset (ENHANCE_YOUR_CALM). Default 32 MiB; 0 = no bound. */
  maxConnectionBufferedBytes?: number;
  /** {@link createGrpcH2cServer}: an HTTP/2 stream with response bytes queued and none sent for this long is reset (ENHANCE_YOUR_CALM). Default 60 000 ms; 0 = never. */
  writeStallTimeoutMs?: number;
  /** {@link createGrpcH2cServer}: HTTP/2 streams one connection may open: a second on average, and at once (rapid reset). Default 200/s, 400; 0 = no limit. */
  streamRatePerConnection?: StreamRate;
  /** {@link createGrpcH2cServer}: HTTP/2 streams one client address may open across its connections. Default 500/s, 1000; 0 = no limit. */
  streamRatePerIp?: StreamRate;
  /** {@link createGrpcH2cServer}: an HTTP/1.1 request's header block must be in within this long (408, closed). Default 60 000 ms; 0 = no limit. */
  headersTimeoutMs?: number;
  /** {@link createGrpcH2cServer}: an HTTP/1.1 request (header and body) must be in within this long (408, closed). Default 300 000 ms; 0 = no limit. */
  requestTimeoutMs?: number;
}

/** True for a native gRPC request: HTTP/2 and a `application/grpc[+proto|+json]` content type. */
export function isGrpcRequest(req: IncomingMessage | Http2ServerRequest): req is Http2ServerRequest {
  return req.httpVersionMajor === 2 && isGrpcContentType(req.headers["content-type"]);
}

/**
 * A request listener: native gRPC over HTTP/2 served with `context` (`serveContext(handler, options)`;
 * undefined when the gate serves it), then `opts.gate`, then `opts.fallback`.
 */
export function createGrpcRequestListener(context: ServeContext | undefined, opts?: GrpcServerOptions): NodeRequestListener {
  const fallback: NodeRequestListener =
    opts?.fallback ??
    ((_req, res) => {
      res.writeHead(404);
      res.end();
    });
  const gate = opts?.gate;
  return (req, res) => {
    if (context !== undefined && isGrpcRequest(req)) {
      // Native gRPC takes the stream over (the compat response is not used): the seam's request and
      // sink on the raw HTTP/2 stream, with real trailers.
      const stream = req.stream;
      stream.on("error", noop); // a reset stream reports here; the request's signal does the rest
      serveGrpc(h2StreamRequest(stream, req.headers, req.socket?.remoteAddress), new H2StreamSink(stream), context);
      return;
    }
    if (gate?.(req, res)) return;
    if (req.httpVersionMajor === 2) markResetAsError(req as unknown as Http2ServerRequest);
    fallback(req, res);
  };
}

/**
 * A client's RST_STREAM leaves an HTTP/2 compat request `aborted` but not `errored`, and its response
 * reads as finished; @hono/node-server 1.19 then never aborts the fetch Request's signal, so a
 * cancelled Connect / gRPC-Web call over h2c would go unnoticed until it writes. Marking the request
 * errored makes node-server abort the signal.
 */
function markResetAsError(req: Http2ServerRequest): void {
  req.once("aborted", () => {
    if (req.errored) return;
    req.on("error", () => {});
    req.destroy(new Error("the client reset the HTTP/2 stream"));
  });
}

/** The combined server. Listen with {@link GrpcH2cServer.listen}; attach WebSocket upgrades to `http1`. */
export interface GrpcH2cServer {
  /** The listening socket server. */
  readonly server: net.Server;
  /** Serves the HTTP/1.1 connections (its 'upgrade' event carries WebSocket upgrades). */
  readonly http1: http.Server;
  /** Serves the HTTP/2 (h2c) connections. */
  readonly http2: http2.Http2Server;
  /** Starts listening (port 0 = any free port). */
  listen(port: number, host?: string): Promise<AddressInfo>;
  /** Response bytes queued on HTTP/2 streams for clients that have not read them yet (see `./write-guard.ts`). */
  queuedResponseBytes(): number;
  /** What the HTTP/2 limits did so far: streams refused for their opening rate, connections sent GOAWAY for it, streams reset for their queued bytes. */
  limitCounts(): { streamsRefused: number; connectionsSentAway: number; resetConnectionBound: number; resetStalled: number };
  /** Stops accepting, asks HTTP/2 clients to go away (GOAWAY), closes idle HTTP/1 connections, and resolves when all connections are gone. */
  close(): Promise<void>;
  /** Closes at once, destroying every connection. */
  destroy(): Promise<void>;
}

const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/**
 * How often Node checks HTTP/1.1 connections against the header and request timeouts: a quarter of
 * the shorter one, between 100 ms and Node's default 30 s, so a timeout is enforced within 25 % of it.
 */
function checkingInterval(headersMs: number, requestMs: number): number {
  const shortest = Math.min(...[headersMs, requestMs].filter((ms) => ms > 0), 120_000);
  return Math.max(100, Math.min(30_000, Math.floor(shortest / 4)));
}

/**
 * Creates the combined HTTP/1.1 + h2c server (see the module comment). Native gRPC is served with
 * `context`, or by `opts.gate` when `context` is undefined.
 */
export function createGrpcH2cServer(context: ServeContext | undefined, opts?: GrpcServerOptions): GrpcH2cServer {
  const listener = createGrpcRequestListener(context, opts);
  const headersTimeout = opts?.headersTimeoutMs ?? 60_000;
  const requestTimeout = opts?.requestTimeoutMs ?? 300_000;
  const h1 = http.createServer({ headersTimeout, requestTimeout, connectionsCheckingInterval: checkingInterval(headersTimeout, requestTimeout) }, listener);
  const rate = createStreamRateLimit({
    perConnection: opts?.streamRatePerConnection ?? { rate: 200, burst: 400 },
    perIp: opts?.streamRatePerIp ?? { rate: 500, burst: 1000 },
  });
  // A stream opened faster than the rate allows never reaches the listener (refused, GOAWAY).
  const h2 = http2.createServer((req, res) => {
    if (rate.admit(req.stream)) listener(req, res);
  });
  const sockets = new Set<net.Socket>();
  const sessions = new Set<Http2Session>();
  const guard = createWriteGuard({
    maxConnectionBufferedBytes: opts?.maxConnectionBufferedBytes ?? 32 * 1024 * 1024,
    writeStallTimeoutMs: opts?.writeStallTimeoutMs ?? 60_000,
  });
  // Idle connections cost a socket each and no call counts them (per-IP limits count calls): a
  // connection that never starts a request, and an HTTP/2 session left without streams, are closed.
  const firstBytesMs = opts?.firstBytesTimeoutMs ?? 10_000;
  const idleSessionMs = opts?.idleSessionTimeoutMs ?? 60_000;
  h2.on("session", (s) => {
    sessions.add(s);
    rate.watch(s);
    let streams = 0;
    let idle: ReturnType<typeof setTimeout> | undefined;
    const arm = () => {
      if (idleSessionMs > 0) idle = setTimeout(() => s.close(), idleSessionMs);
    };
    // First, before the request listener gets the stream and writes to it.
    s.prependListener("stream", (st) => guard.watch(s, st));
    s.on("stream", (st) => {
      streams++;
      clearTimeout(idle);
      st.once("close", () => {
        if (--streams === 0 && !s.closed && !s.destroyed) arm();
      });
    });
    s.once("close", () => {
      clearTimeout(idle);
      sessions.delete(s);
    });
    arm();
  });
  // noDelay as http.createServer sets it (a plain net.Server leaves Nagle on): a response written in
  // more than one piece (gRPC-Web trailers, streams, WebSocket frames) otherwise waits for the
  // client's delayed ACK — 40 ms per gRPC-Web unary call at 1 in flight in the bench.
  const server = net.createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    const onError = () => socket.destroy();
    socket.on("error", onError);
    const onSilent = () => socket.destroy();
    if (firstBytesMs > 0) socket.setTimeout(firstBytesMs, onSilent);
    let buf: Buffer | undefined;
    const onData = (chunk: Buffer) => {
      buf = buf === undefined ? chunk : Buffer.concat([buf, chunk]);
      const n = Math.min(buf.length, preface.length);
      const isH2 = buf.subarray(0, n).equals(preface.subarray(0, n));
      if (isH2 && n < preface.length) return; // could still be the preface: wait for more
      socket.off("data", onData);
      socket.off("error", onError);
      socket.setTimeout(0);
      socket.off("timeout", onSilent);
      socket.pause();
      socket.unshift(buf);
      if (isH2) {
        h2.emit("connection", socket);
      } else {
        h1.emit("connection", socket);
        socket.resume(); // the http parser reads from the stream, not the handle, for unshifted data
      }
    };
    socket.on("data", onData);
  });
  const closeAll = (force: boolean): Promise<void> =>
    new Promise((resolve) => {
      server.close(() => resolve());
      guard.close();
      rate.close();
      h1.close(() => {}); // stops the connection checker (it reports "not running": it never listened)
      for (const s of sessions) force ? s.destroy() : s.close();
      if (force) {
        h1.closeAllConnections();
        for (const s of sockets) s.destroy();
      } else {
        h1.closeIdleConnections();
      }
    });
  return {
    server,
    http1: h1,
    http2: h2,
    listen(port, host) {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          // The HTTP/1.1 server gets its connections from us and is never listen()ed itself, but its
          // 'listening' event is what starts Node's connection tracking: the checker that enforces
          // headersTimeout / requestTimeout (slowloris), and the list closeIdleConnections() reads.
          h1.emit("listening");
          resolve(server.address() as AddressInfo);
        });
      });
    },
    queuedResponseBytes: () => guard.queuedBytes(),
    limitCounts: () => ({
      streamsRefused: rate.refused.streams,
      connectionsSentAway: rate.refused.connections,
      resetConnectionBound: guard.resets.connectionBound,
      resetStalled: guard.resets.stalled,
    }),
    close: () => closeAll(false),
    destroy: () => closeAll(true),
  };
}

function noop(): void {}
