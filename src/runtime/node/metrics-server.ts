/**
 * `/metrics` on its own listener (`edge.metrics_listen`, e.g. `127.0.0.1:9464`): Prometheus can
 * scrape a private address while the public port answers 404. `edge.metrics_token` still applies.
 * Anything but `GET /metrics` gets 404. Node only.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { parseListenAddress } from "../../config/config.js";
import type { Logger } from "../../observability/logger.js";
import { metricsRequestAllowed } from "../../observability/metrics-access.js";

/** A running metrics listener. */
export interface MetricsServer {
  /** `http://host:port/metrics` */
  readonly url: string;
  close(): Promise<void>;
}

/** Listens on `listen` (`host:port`, `:port` = every interface) and serves `text()` at `/metrics`. */
export async function startMetricsServer(listen: string, token: string, text: () => Promise<string>, log?: Logger): Promise<MetricsServer> {
  const addr = parseListenAddress(listen);
  if (!addr) throw new Error(`config: edge.metrics_listen must be host:port or :port (got ${JSON.stringify(listen)})`);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0];
    if (req.method !== "GET" || path !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("not found\n");
      return;
    }
    if (!metricsRequestAllowed(req.headers.authorization, token)) {
      res.writeHead(401, { "www-authenticate": 'Bearer realm="metrics"', "content-type": "text/plain; charset=utf-8" }).end("unauthorized\n");
      return;
    }
    text().then(
      (body) => res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" }).end(body),
      (e: unknown) => {
        log?.error("metrics: scrape failed", { error: String(e) });
        res.writeHead(500, { "content-type": "text/plain; charset=utf-8" }).end("metrics unavailable\n");
      },
    );
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(addr.port, addr.host || undefined, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const host = addr.host === "" || addr.host === "0.0.0.0" || addr.host === "::" ? "127.0.0.1" : bound.family === "IPv6" ? `[${bound.address}]` : bound.address;
  return {
    url: `http://${host}:${bound.port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
