/**
 * Baseline (b), the no-gateway alternative: demo.v1.EchoService served directly by
 * @connectrpc/connect-node (connectNodeAdapter on node:http, HTTP/1.1), in-process: no NATS hop.
 * Speaks Connect, gRPC-Web and gRPC, like any connect-node server.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { EchoService } from "../../src/gen/demo/v1/echo_pb.js";
import { argv, serveCommands } from "../lib/child.js";

const a = argv();
const node = "direct";
const handler = connectNodeAdapter({
  routes: (router) =>
    router.service(EchoService, {
      echo: (req) => ({ message: req.message, node }),
      async *echoStream(req, ctx) {
        const n = Math.max(1, Math.min(req.repeat || 1, 10_000));
        for (let i = 0; i < n; i++) {
          if (ctx.signal.aborted) return;
          yield { message: req.repeat > 1 ? `${req.message} ${i}` : req.message, node };
        }
      },
      async echoClientStream(reqs) {
        const parts: string[] = [];
        for await (const r of reqs) parts.push(r.message);
        return { message: parts.join(" "), node };
      },
      async *echoBidi(reqs) {
        for await (const r of reqs) yield { message: r.message, node };
      },
    }),
});
const server = http.createServer(handler);
await new Promise<void>((r) => server.listen(Number(a["port"] ?? 0), "127.0.0.1", r));
const port = (server.address() as AddressInfo).port;
serveCommands({}, { url: `http://127.0.0.1:${port}`, port }, async () => {
  server.closeAllConnections();
  server.close();
});
