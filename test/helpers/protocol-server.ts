/**
 * Test servers: a tiny Hono app mounting the adapters with a CallHandler, served over HTTP/1.1 by
 * @hono/node-server (with @hono/node-ws for grpc-websockets), and over h2c + HTTP/1.1 on one port by
 * createGrpcH2cServer (native gRPC, and the Hono app as fallback).
 */
import { after, before } from "node:test";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { Hono } from "hono";
import { serve, getRequestListener } from "@hono/node-server";
import { createNodeWebSocket } from "@hono/node-ws";
import { Http2SessionManager } from "@connectrpc/connect-node";
import { createRegistry } from "@bufbuild/protobuf";
import { file_demo_v1_echo } from "../../src/gen/demo/v1/echo_pb.js";
import type { CallHandler } from "../../src/core/call.js";
import { createEchoHandler, type EchoHandler } from "./echo-handler.js";
import { serveContext, type ProtocolOptions } from "../../src/protocol/options.js";
import { createJsonCodecLookup } from "../../src/protocol/json-codec.js";
import { handleConnect } from "../../src/protocol-connect/index.js";
import { handleGrpcWeb } from "../../src/protocol-grpc-web/index.js";
import { checkWebSocketOrigin, grpcWebsocketsEvents, isGrpcWebsocketsUpgrade } from "../../src/protocol-grpc-websockets/index.js";
import { createGrpcH2cServer, type GrpcH2cServer } from "../../src/runtime/node/server.js";
import { cors } from "../../src/cors/index.js";

export const allowedOrigin = "http://allowed.test";

export interface TestServers {
  /** http://127.0.0.1:port of the @hono/node-server (HTTP/1.1, WebSockets). */
  readonly http1Url: string;
  /** http://127.0.0.1:port of the combined h2c + HTTP/1.1 server. */
  readonly h2Url: string;
  readonly wsUrl: string;
  close(): Promise<void>;
}

export function createTestApp(handler: CallHandler, opts: ProtocolOptions) {
  const app = new Hono();
  const ws = createNodeWebSocket({ app });
  app.use("*", cors({ allowOrigins: [allowedOrigin, "https://*.example.com"], allowHeaders: ["x-test-mode"] }));
  app.all("/:service/:method", async (c) => {
    const req = c.req.raw;
    const path = `/${c.req.param("service")}/${c.req.param("method")}`;
    if (isGrpcWebsocketsUpgrade(req)) {
      if (!checkWebSocketOrigin(req.headers.get("origin"), [allowedOrigin])) return c.text("origin not allowed", 403);
      return ws.upgradeWebSocket(c, grpcWebsocketsEvents(path, handler, { ...opts, remote: { origin: req.headers.get("origin") ?? undefined } }));
    }
    if ((req.headers.get("content-type") ?? "").startsWith("application/grpc-web")) return handleGrpcWeb(req, handler, opts, { path });
    return handleConnect(req, handler, opts, { path });
  });
  return { app, injectWebSocket: ws.injectWebSocket, wss: ws.wss };
}

export const jsonLookup = createJsonCodecLookup(createRegistry(file_demo_v1_echo));

export async function startServers(handler: CallHandler, opts: ProtocolOptions = {}): Promise<TestServers> {
  const o: ProtocolOptions = { json: jsonLookup, ...opts };
  const { app, injectWebSocket, wss } = createTestApp(handler, o);
  const h1 = await new Promise<Server>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s as Server));
  });
  injectWebSocket(h1);
  const h2: GrpcH2cServer = createGrpcH2cServer(serveContext(handler, o), { fallback: getRequestListener(app.fetch) });
  injectWebSocket(h2.http1);
  const a2 = await h2.listen(0, "127.0.0.1");
  const p1 = (h1.address() as AddressInfo).port;
  return {
    http1Url: `http://127.0.0.1:${p1}`,
    h2Url: `http://127.0.0.1:${a2.port}`,
    wsUrl: `ws://127.0.0.1:${p1}`,
    async close() {
      for (const c of wss.clients) c.terminate();
      h1.closeAllConnections();
      await new Promise<void>((r) => h1.close(() => r()));
      await h2.destroy();
    },
  };
}

/** What {@link echoServersPerFile} gives a test file; `srv` and `h2` are there once its `before` ran. */
export interface EchoServers {
  readonly echo: EchoHandler;
  readonly srv: TestServers;
  /** One HTTP/2 session manager on `srv.h2Url`, shared by the file's clients. */
  readonly h2: Http2SessionManager;
}

/**
 * The protocol handler tests' set-up: an echo handler behind {@link startServers} (64 KiB messages,
 * 2 KiB of metadata) and one HTTP/2 session manager, started in the file's `before` and stopped in
 * its `after`.
 */
export function echoServersPerFile(): EchoServers {
  const echo = createEchoHandler();
  let srv: TestServers | undefined;
  let h2: Http2SessionManager | undefined;
  before(async () => {
    srv = await startServers(echo.handler, { maxMessageBytes: 64 * 1024, maxMetadataBytes: 2048 });
    h2 = new Http2SessionManager(srv.h2Url);
  });
  after(async () => {
    h2?.abort();
    await srv?.close();
  });
  return {
    echo,
    get srv() {
      if (srv === undefined) throw new Error("echoServersPerFile: the servers start in the file's before()");
      return srv;
    },
    get h2() {
      if (h2 === undefined) throw new Error("echoServersPerFile: the servers start in the file's before()");
      return h2;
    },
  };
}
