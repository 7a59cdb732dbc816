/**
 * Baseline (c), the naive forwarder: Hono on @hono/node-server taking the Connect unary body bytes
 * and doing one NATS request to the raw responder. No auth, no routing, no envelopes: the ceiling for
 * any gateway on this stack.
 */
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import type { AddressInfo } from "node:net";
import { connectNats } from "../../src/runtime/node/nats-connect.js";
import { argv, serveCommands } from "../lib/child.js";

const a = argv();
const nc = await connectNats(a["nats"]!, { name: "bench-forwarder" });
const app = new Hono();
app.post("/:service/:method", async (c) => {
  const body = new Uint8Array(await c.req.arrayBuffer());
  const m = await nc.request("bench.echo", body, { timeout: 10_000 });
  return c.body(m.data as Uint8Array<ArrayBuffer>, 200, { "content-type": "application/proto" });
});
const server = serve({ fetch: app.fetch, port: Number(a["port"] ?? 0), hostname: "127.0.0.1" });
await new Promise<void>((r) => (server.listening ? r() : server.once("listening", () => r())));
const port = (server.address() as AddressInfo).port;
serveCommands({}, { url: `http://127.0.0.1:${port}`, port }, async () => {
  server.close();
  await nc.close();
});
