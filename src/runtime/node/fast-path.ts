/**
 * The Node entry's fast path for Connect unary POSTs (`application/proto`, `application/json`): served
 * from `IncomingMessage` / `ServerResponse` directly, without a fetch `Request` and `Response` (which
 * @hono/node-server builds per request: two ReadableStreams, three AbortSignals, undici's header
 * checks — a fifth of the gateway's time per call in the bench profile) and without the Hono app.
 *
 * It puts the request on the seam (src/protocol/universal.ts) and runs the same protocol code as
 * the app: the app's origin check and CORS policy (src/app.ts, src/cors), the Connect rules of
 * `classifyConnect` and the Connect unary protocol ({@link serveConnectUnary}: metadata and its
 * limits, timeouts, JSON, gzip both ways, error mapping, trailers as `trailer-*`), with the gateway's
 * call handler (per-IP and global limits). Request headers are read as a fetch `Headers` would hold
 * them, and response headers written as @hono/node-server writes a `Headers` ({@link HeaderList}), so
 * both paths answer alike.
 *
 * gRPC-Web POSTs (binary and text) with a `Content-Length` that fits a message come here too: the
 * body is read whole, then the gRPC-Web protocol of src/protocol-grpc-web ({@link serveGrpcWeb})
 * writes into a {@link NodeResponseSink}, streaming the response with backpressure. A response that
 * is complete within the turn it starts in gets a `Content-Length`, a longer one is chunked, as
 * @hono/node-server sends the app's streamed `Response`.
 *
 * Anything it is not sure of is left to the app, untouched: other methods and content types
 * (Connect streaming, GET), a chunked or larger gRPC-Web body, HTTP/2, WebSocket upgrades, a query
 * string or an unusual path or Host, an Origin that is not on the allow-list (the app refuses it, or
 * lets a same-origin page through).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { Code, ConnectError } from "@connectrpc/connect";
import { allowedOrigins, appCorsOptions } from "../../app.js";
import type { Config } from "../../config/index.js";
import { createCorsPolicy } from "../../cors/index.js";
import type { CallHandler } from "../../core/call.js";
import type { ClientWatch } from "../../protocol/client-signal.js";
import { concatBytes, messageTooLarge } from "../../protocol/compression.js";
import { maxDiscardBytes } from "../../protocol/discard-body.js";
import { HeaderList } from "../../protocol/header-list.js";
import { resolveProtocolOptions, type ProtocolOptions, type ServeContext } from "../../protocol/options.js";
import type { MethodSpec } from "../../protocol/method-spec.js";
import { isOriginAllowed } from "../../protocol/origin.js";
import { sendRefusal } from "../../protocol/refusal.js";
import { isRpcPath } from "../../protocol/rpc-path.js";
import type { UniversalRequest, UniversalResponseSink } from "../../protocol/universal.js";
import { parseConnectContentType } from "../../protocol-connect/content-type.js";
import type { ConnectOptions } from "../../protocol-connect/options.js";
import { classifyConnect } from "../../protocol-connect/route.js";
import { serveConnectUnary } from "../../protocol-connect/unary.js";
import { envelopePrefixBytes } from "../../protocol/envelope.js";
import type { ResolvedProtocolOptions } from "../../protocol/options.js";
import { parseGrpcWebContentType, serveGrpcWeb, type GrpcWebContentType } from "../../protocol-grpc-web/index.js";
import { whenDrained } from "./when-drained.js";
import { singleMessage } from "../../protocol/message-queue.js";

export { isRpcPath };

/** Serves a request when it is a plain Connect unary or gRPC-Web POST (true); otherwise leaves it alone (false). */
export interface NodeUnaryFastPath {
  (req: IncomingMessage, res: ServerResponse): boolean;
  /** Requests served so far. */
  readonly served: number;
}

/** What the fast path needs: the app's config (origins), the gateway's call handler and protocol options. */
export interface NodeUnaryFastPathOptions {
  config: Config;
  handler: CallHandler;
  protocol: ConnectOptions;
}

/** Creates the fast path. */
export function createNodeUnaryFastPath(opts: NodeUnaryFastPathOptions): NodeUnaryFastPath {
  const { handler, protocol } = opts;
  const origins = allowedOrigins(opts.config);
  const cors = createCorsPolicy(appCorsOptions(opts.config));
  const hosts = new HostCheck();
  const o = resolveProtocolOptions(protocol);
  const ctx: ServeContext = { handler, options: o, requireConnectVersion: protocol.requireProtocolVersion };
  let served = 0;

  const fast = ((req: IncomingMessage, res: ServerResponse): boolean => {
    if (req.method !== "POST" || req.httpVersionMajor !== 1) return false;
    const path = req.url;
    if (path === undefined || !isRpcPath(path)) return false;
    const headers = HeaderList.fromRaw(req.rawHeaders);
    const ctValue = headers.get("content-type");
    const ct = parseConnectContentType(ctValue);
    const grpcWeb = ct === undefined ? grpcWebCandidate(ctValue, headers, o) : undefined;
    if (ct === undefined ? grpcWeb === undefined : ct.stream) return false;
    if (headers.has("upgrade")) return false;
    // @hono/node-server answers 400 to a missing or odd Host: leave those to it.
    const host = headers.get("host");
    if (host === null || !hosts.isPlain(host)) return false;
    // The app refuses an origin that is not allowed unless it is the gateway's own host; CORS headers
    // are for allowed origins only. Only allowed origins (and none) come here.
    const origin = headers.get("origin");
    if (origin !== null && (origin === "" || !isOriginAllowed(origin, origins))) return false;

    served++;
    const sink = new NodeResponseSink(res, o.highWaterMarkBytes, origin === null ? undefined : (h) => cors.decorate(h, origin));
    const request: UniversalRequest = {
      method: "POST",
      path,
      search: "",
      httpVersion: req.httpVersion,
      headers,
      authority: host,
      body: ct === undefined ? null : { readAll: (max) => readBody(req, res, max), [Symbol.asyncIterator]: () => req[Symbol.asyncIterator]() },
      signal: watchClient(req, res),
      remoteAddress: req.socket.remoteAddress,
    };
    const spec = o.methods?.(path);
    if (ct === undefined) {
      serveGrpcWebFromNode(req, res, request, sink, grpcWeb!, ctx, spec ?? undefined);
      return true;
    }
    const route = classifyConnect(request, spec, protocol.allowGet);
    if ("refuse" in route) sendRefusal(sink, route.refuse);
    else serveConnectUnary(request, sink, ctx, false, route.json);
    return true;
  }) as NodeUnaryFastPath;
  Object.defineProperty(fast, "served", { get: () => served });
  return fast;
}

/**
 * The gRPC-Web content type of a request the fast path takes: one the app sends to its gRPC-Web
 * adapter (it dispatches on the `application/grpc-web` prefix) and that adapter accepts, with a
 * `Content-Length` no larger than one enveloped message of the largest size (base64-encoded in text
 * mode). A chunked or larger body (client streaming, or one the adapter refuses as too large) is the app's.
 */
function grpcWebCandidate(ctValue: string | null, headers: HeaderList, o: ResolvedProtocolOptions): GrpcWebContentType | undefined {
  if (ctValue === null || !ctValue.startsWith("application/grpc-web")) return undefined;
  const ct = parseGrpcWebContentType(ctValue);
  if (ct === undefined || headers.has("transfer-encoding")) return undefined;
  const length = headers.get("content-length");
  if (length === null || !/^\d{1,10}$/.test(length)) return undefined;
  const max = o.maxMessageBytes + envelopePrefixBytes;
  return Number(length) <= (ct.text ? Math.ceil(max / 3) * 4 : max) ? ct : undefined;
}

/** Serves a gRPC-Web call (see {@link grpcWebCandidate}) from Node's request and response objects. */
function serveGrpcWebFromNode(
  req: IncomingMessage,
  res: ServerResponse,
  request: UniversalRequest,
  sink: NodeResponseSink,
  ct: GrpcWebContentType,
  ctx: ServeContext,
  spec: MethodSpec | undefined,
): void {
  readBody(req, res, Number.MAX_SAFE_INTEGER).then(
    // The body, read whole, is the request stream's one chunk.
    (body) => serveGrpcWeb({ ...request, body: singleMessage(body) }, sink, ctx, ct, spec),
    () => res.destroy(), // the client went away while sending: nobody to answer
  );
}

/**
 * The seam's response sink on a `ServerResponse`, written as @hono/node-server writes the app's
 * `Response`: a whole response (`respond`) with a `Content-Length`; a streamed one (`head`) sends what
 * is written in the turn it opens at once with a `Content-Length` when it also ends in that turn,
 * otherwise its head goes out after that turn (chunked) and each later chunk as it comes. `write`
 * returns a promise while Node holds more than `highWaterMark` bytes for the client.
 */
class NodeResponseSink implements UniversalResponseSink {
  readonly trailers = false;
  private status = 200;
  private headers: HeaderList | undefined;
  private held: Uint8Array[] | undefined;
  private headSent = false;
  private done = false;
  private drained: Promise<void> | undefined;

  constructor(
    private readonly res: ServerResponse,
    private readonly highWaterMark: number,
    private readonly decorate: ((h: HeaderList) => void) | undefined,
  ) {}

  head(status: number, headers: HeaderList): void {
    if (this.done || this.headers !== undefined) return;
    this.decorate?.(headers);
    this.status = status;
    this.headers = headers;
    this.held = [];
    setImmediate(() => this.sendHead());
  }

  respond(status: number, headers: HeaderList, body?: Uint8Array): void {
    if (this.done || this.headers !== undefined) return;
    this.done = true;
    this.headSent = true;
    this.decorate?.(headers);
    const out = outgoingHeaders(headers);
    if (body !== undefined) {
      out["content-type"] ??= "text/plain; charset=UTF-8";
      if (!("content-length" in out)) out["Content-Length"] = body.byteLength;
    }
    try {
      this.res.writeHead(status, out);
      this.res.end(body);
    } catch {
      this.res.destroy(); // the connection is gone, or broken
    }
  }

  write(d: Uint8Array): void | Promise<void> {
    if (this.done) return;
    if (!this.headSent) {
      this.held?.push(d);
      return;
    }
    if (this.res.destroyed) return;
    this.res.write(d);
    if (this.res.writableLength > this.highWaterMark) {
      return (this.drained ??= whenDrained(this.res).then(() => {
        this.drained = undefined;
      }));
    }
  }

  end(): void {
    if (this.done || this.headers === undefined) return;
    this.done = true;
    if (this.headSent) {
      this.res.end();
      return;
    }
    // Complete within its first turn: one write with a Content-Length.
    this.headSent = true;
    const held = this.held ?? [];
    this.held = undefined;
    const body = held.length === 1 ? held[0]! : Buffer.concat(held);
    const out = outgoingHeaders(this.headers);
    out["content-length"] = body.byteLength;
    try {
      this.res.writeHead(this.status, out);
      this.res.end(body);
    } catch {
      this.res.destroy();
    }
  }

  private sendHead(): void {
    if (this.headSent) return;
    this.headSent = true;
    const held = this.held ?? [];
    this.held = undefined;
    try {
      this.res.writeHead(this.status, outgoingHeaders(this.headers!));
      if (held.length === 0) this.res.flushHeaders();
      for (const d of held) this.res.write(d);
    } catch {
      this.res.destroy();
    }
  }
}

/**
 * Whether @hono/node-server accepts a Host header as it is: the URL it builds parses, and the parsed
 * hostname is the header's (less a port). Cached: a gateway sees few distinct hosts.
 */
class HostCheck {
  private readonly cache = new Map<string, boolean>();

  isPlain(host: string): boolean {
    let ok = this.cache.get(host);
    if (ok === undefined) {
      try {
        const url = new URL(`http://${host}/`);
        ok = url.hostname.length === host.length || url.hostname === host.replace(/:\d+$/, "");
      } catch {
        ok = false;
      }
      if (this.cache.size >= 256) this.cache.clear();
      this.cache.set(host, ok);
    }
    return ok;
  }
}

/** The client went away: the response closed before it was written (or the request failed). */
function watchClient(req: IncomingMessage, res: ServerResponse): ClientWatch {
  return (onGone) => {
    if (res.destroyed || req.errored) {
      if (!res.writableFinished) onGone();
      return noop;
    }
    const onClose = () => {
      if (req.errored || !res.writableFinished) onGone();
    };
    res.once("close", onClose);
    return () => res.off("close", onClose);
  };
}

function noop(): void {}

/**
 * The whole request body, as `readAllBytes` reads a fetch body: RESOURCE_EXHAUSTED once it passes
 * `maxBytes` (the rest is read and dropped, see {@link discard}, so that the connection can carry the
 * next request), CANCELLED when the client goes away first.
 */
function readBody(req: IncomingMessage, res: ServerResponse, maxBytes: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
    };
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (total > maxBytes) {
        cleanup();
        discard(req, res);
        reject(messageTooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 0 ? new Uint8Array(0) : concatBytes(chunks, total)); // several chunks: one copy, none more in nrpc
    };
    const onError = (e: Error) => {
      cleanup();
      reject(new ConnectError(`reading the request body failed: ${e.message}`, Code.Canceled));
    };
    const onClose = () => {
      if (req.complete) return;
      cleanup();
      reject(new ConnectError("reading the request body failed: the client went away", Code.Canceled));
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
  });
}

/** How long @hono/node-server waits, after the response, for the rest of a body its handler left unread. */
const drainTimeoutMs = 500;

/**
 * Reads and drops the rest of a refused body, as the app's path does (`discardBody`, then
 * @hono/node-server's drain): the connection stays usable for the next request when the body ends
 * within `maxDiscardBytes` and within 500 ms after the response; otherwise it is closed once the
 * response is out.
 */
function discard(req: IncomingMessage, res: ServerResponse): void {
  let n = 0;
  let finished = false;
  let tooMuch = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const done = () => {
    clearTimeout(timer);
    req.off("data", onData);
    req.off("end", done);
    req.off("close", done);
    res.off("finish", onFinish);
  };
  const close = () => {
    done();
    req.socket.destroySoon();
  };
  const onData = (chunk: Buffer) => {
    n += chunk.length;
    if (n <= maxDiscardBytes) return;
    tooMuch = true;
    req.pause();
    if (finished) close();
  };
  const onFinish = () => {
    finished = true;
    if (tooMuch) return close();
    timer = setTimeout(close, drainTimeoutMs);
    timer.unref?.();
  };
  req.on("data", onData);
  req.on("end", done);
  req.on("close", done);
  req.on("error", noop);
  if (res.writableFinished) onFinish();
  else res.once("finish", onFinish);
}

/** Response headers as @hono/node-server passes a `Headers` to `writeHead`. */
function outgoingHeaders(headers: HeaderList): Record<string, string | string[] | number> {
  const out: Record<string, string | string[] | number> = {};
  let cookies: string[] | undefined;
  for (const [k, v] of headers.entries()) {
    if (k === "set-cookie") (cookies ??= []).push(v);
    else out[k] = v;
  }
  if (cookies !== undefined) out["set-cookie"] = cookies;
  return out;
}
