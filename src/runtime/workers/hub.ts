/**
 * The hub Durable Object of the Cloudflare Workers runtime: it owns the NATS connection, the gateway
 * and every browser WebSocket routed to it.
 *
 * Why a Durable Object: in a plain Worker, I/O objects (a NATS WebSocket included) belong to the
 * request that created them; another request cannot use them. A Durable Object shares one I/O
 * context across every request sent to it, so one NATS connection serves all of its calls.
 *
 * How it scales: one hub object = one NATS connection = one gateway instance (one discovery watch,
 * one nrpc inbox, one node id in nats-discovery), single-threaded. The Worker picks the hub by
 * name (`idFromName`): one name for a small deployment, or one per region or tenant
 * (`EDGE_SIGNAL_HUB_BY`, see index.ts) to spread calls over several objects. The open outbound
 * NATS WebSocket and the client's ping timer keep the object in memory (no hibernation), which is
 * what a gateway wants, billed as duration. An evicted or restarted object reconnects on its next
 * request.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { createGateway, type Gateway } from "../../gateway.js";
import { connectWebSocket } from "../../nats/connect.js";
import { createLogger, type Logger } from "../../observability/logger.js";
import { edgeSetup } from "../edge-env.js";
import { upgradeGrpcWebsocketsOnWorkers } from "./websocket-upgrade.js";

/** What the hub keeps once started. */
interface Started {
  nc: NatsConnection;
  gateway: Gateway;
  log: Logger;
}

/** The client address Cloudflare reports for a request. */
function clientAddress(headers: Headers): string | undefined {
  return headers.get("cf-connecting-ip") ?? undefined;
}

/**
 * The hub Durable Object class (binding `EDGE_SIGNAL_HUB` in wrangler.toml). Its `env` holds the
 * Worker's vars and secrets (see ../edge-env.ts). Starts lazily on the first request; if NATS or the
 * config fails, answers 503 and retries on the next request.
 */
export class EdgeSignalHub {
  private starting: Promise<Started> | undefined;

  constructor(
    _state: unknown,
    private readonly env: Record<string, unknown>,
  ) {}

  /** Serves one request forwarded by the Worker (HTTP call or WebSocket upgrade). */
  async fetch(req: Request): Promise<Response> {
    let s: Started;
    try {
      s = await this.start();
    } catch (e) {
      return Response.json({ code: "unavailable", message: `gateway not started: ${(e as Error).message}` }, { status: 503 });
    }
    return s.gateway.app.fetch(req);
  }

  private start(): Promise<Started> {
    this.starting ??= this.open().catch((e) => {
      this.starting = undefined;
      throw e;
    });
    return this.starting;
  }

  private async open(): Promise<Started> {
    const { config, servers, natsOptions } = edgeSetup(this.env);
    const log = createLogger(config.logLevel).with({ runtime: "workers" });
    const nc = await connectWebSocket(servers, natsOptions);
    try {
      const gateway = await createGateway({
        config,
        nc,
        log,
        remoteAddress: (c) => clientAddress(c.req.raw.headers),
        // workerd cannot read a request body once the response is complete: a call refused before
        // its body was read would leave the rest on the connection and break the next request.
        drainBodyBeforeEnd: true,
        websocket: (_c, path, handler, options) => upgradeGrpcWebsocketsOnWorkers(path, handler, options),
      });
      log.info("hub started", { nid: gateway.nid, nats: nc.getServer() });
      // The client reconnects forever; if it still ends, the next request starts afresh.
      void nc.closed().then(() => {
        this.starting = undefined;
        void gateway.close(0);
      });
      return { nc, gateway, log };
    } catch (e) {
      await nc.close().catch(() => {});
      throw e;
    }
  }
}
