/**
 * The naive forwarders (baselines): take the Connect unary body bytes and do one NATS request to the
 * raw responder's echo (`bench.echo`). No auth, no routing, no envelopes: the ceiling for any gateway
 * on this stack. NATS over TCP or WebSocket by the `--nats` URL. `--kind`:
 * - `plain` (default): a few lines on `node:http` — the best naive forwarder, what the gateway is
 *   measured against;
 * - `hono`: Hono on @hono/node-server reading the body with `c.req.arrayBuffer()`, as an app on that
 *   adapter does (the adapter then builds a fetch `Request` with a web-stream body);
 * - `hono-node`: the same Hono app, but the body read from Node's `IncomingMessage` (`c.env.incoming`),
 *   so no fetch `Request` is ever built: `hono` − `hono-node` is what that `Request` costs;
 * - `echo`: node:http answering the body itself, no NATS: the HTTP round trip alone (the latency
 *   breakdown's HTTP floor).
 */
import http, { type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import type { NatsConnection } from "@nats-io/nats-core";
import { connectNats } from "../../src/runtime/node/nats-connect.js";
import { argv, serveCommands } from "../lib/child.js";

const a = argv();
const kind = a["kind"] ?? "plain";
const nc = await connectNats(a["nats"]!, { name: `bench-forwarder-${kind}` });
const port = Number(a["port"] ?? 0);

/** The whole body of a Node request. */
function readNodeBody(req: IncomingMessage): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.once("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.once("error", reject);
  });
}

function plainServer(nc: NatsConnection, echo: boolean): http.Server {
  return http.createServer((req, res) => {
    readNodeBody(req)
      .then((body) => (echo ? { data: body } : nc.request("bench.echo", body, { timeout: 10_000 })))
      .then(
        (m) => {
          res.writeHead(200, { "content-type": "application/proto", "content-length": m.data.length });
          res.end(m.data);
        },
        (e: unknown) => {
          res.writeHead(502, { "content-type": "text/plain" });
          res.end(String(e));
        },
      );
  });
}

function honoServer(nc: NatsConnection, viaNode: boolean): http.Server {
  const app = new Hono<{ Bindings: { incoming: IncomingMessage } }>();
  app.post("/:service/:method", async (c) => {
    const body = viaNode ? await readNodeBody(c.env.incoming) : new Uint8Array(await c.req.arrayBuffer());
    const m = await nc.request("bench.echo", body, { timeout: 10_000 });
    return c.body(m.data as Uint8Array<ArrayBuffer>, 200, { "content-type": "application/proto" });
  });
  return serve({ fetch: app.fetch, port, hostname: "127.0.0.1" }) as http.Server;
}

let server: http.Server;
if (kind === "plain" || kind === "echo") {
  server = plainServer(nc, kind === "echo");
  server.listen(port, "127.0.0.1");
} else if (kind === "hono" || kind === "hono-node") {
  server = honoServer(nc, kind === "hono-node");
} else throw new Error(`unknown --kind=${kind}`);
await new Promise<void>((r) => (server.listening ? r() : server.once("listening", () => r())));
const addr = server.address() as AddressInfo;
serveCommands({}, { url: `http://127.0.0.1:${addr.port}`, port: addr.port, kind }, async () => {
  server.closeAllConnections();
  server.close();
  await nc.close();
});
