/**
 * The Deno entry: the same gateway served with `Deno.serve`, NATS over Deno's global WebSocket,
 * grpc-websockets through `Deno.upgradeWebSocket`. Run from the package root (Deno reads the
 * project's node_modules and resolves the sources' `.js` specifiers to `.ts` through deno.json):
 *
 *   NATS_URL=ws://127.0.0.1:4223 npx deno run -A src/runtime/deno/index.ts [--config signal.toml] [--port 5551]
 *
 * Variables as on Workers (see ../edge-env.ts: NATS_URL, JWT_KEY, EDGE_SIGNAL_*, PORT, HOST);
 * `--config <file>` or `EDGE_SIGNAL_CONFIG_FILE` names a TOML file. One process = one NATS
 * connection = one gateway instance (Deno has no per-request I/O isolation). HTTP/1.1 only here:
 * Connect unary and server streaming, gRPC-Web, grpc-websockets (all kinds); not native gRPC (Node).
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { createGateway, type Gateway } from "../../gateway.js";
import { connectWebSocket } from "../../nats/connect.js";
import { createLogger, type Logger } from "../../observability/logger.js";
import { bindGrpcWebsocketsSession, grpcWebsocketsSubprotocol, type GrpcWebsocketsOptions } from "../../protocol-grpc-websockets/index.js";
import type { CallHandler } from "../../core/call.js";
import { closeNatsBy, settleBy, shutdownTailMs } from "../../settle-by.js";
import { edgeSetup } from "../edge-env.js";
import { packageWebRoot, staticAssets } from "../static-assets.js";

/** The parts of the Deno namespace this file uses (the project type-checks with Node's types). */
interface DenoApi {
  args: string[];
  env: { toObject(): Record<string, string> };
  readTextFile(path: string): Promise<string>;
  readFile(path: string): Promise<Uint8Array<ArrayBuffer>>;
  serve(
    opts: { port: number; hostname: string; onListen?: (addr: { hostname: string; port: number }) => void },
    handler: (req: Request, info: { remoteAddr: { hostname: string } }) => Response | Promise<Response>,
  ): { readonly addr: { hostname: string; port: number }; shutdown(): Promise<void>; readonly finished: Promise<void> };
  upgradeWebSocket(req: Request, opts?: { protocol?: string }): { socket: WebSocket; response: Response };
  addSignalListener(signal: "SIGINT" | "SIGTERM", fn: () => void): void;
  exit(code?: number): never;
}

const deno = (): DenoApi => {
  const d = (globalThis as { Deno?: DenoApi }).Deno;
  if (!d) throw new Error("src/runtime/deno/index.ts runs on Deno only");
  return d;
};

/** Options of {@link startDenoGateway}. */
export interface DenoGatewayOptions {
  /** Environment variables (default `Deno.env.toObject()`). */
  env?: Record<string, string>;
  /** TOML config text (default the file of `EDGE_SIGNAL_CONFIG_FILE`, else `EDGE_SIGNAL_CONFIG`). */
  configText?: string;
  log?: Logger;
  /** Folder of the built status page (default `web/dist` of this package). */
  webRoot?: string;
}

/** A gateway serving on Deno. */
export interface DenoGateway {
  readonly gateway: Gateway;
  readonly nc: NatsConnection;
  readonly port: number;
  readonly url: string;
  /** Drains calls, stops serving, drains NATS: within `drainMs` (default: the config's drain timeout). */
  close(drainMs?: number): Promise<void>;
}

/** Upgrades `req` to a grpc-websockets session with `Deno.upgradeWebSocket` (echoes the subprotocol). */
function upgrade(req: Request, path: string, handler: CallHandler, opts: GrpcWebsocketsOptions): Response {
  const { socket, response } = deno().upgradeWebSocket(req, { protocol: grpcWebsocketsSubprotocol });
  socket.binaryType = "arraybuffer";
  bindGrpcWebsocketsSession(socket, path, handler, opts);
  return response;
}

/** Serves files below `root` (a file: URL ending in "/"), `/` as index.html, no traversal. */
function staticFiles(root: URL): (path: string) => Promise<Response | undefined> {
  return staticAssets((rel) => deno().readFile(decodeURIComponent(new URL("." + rel, root).pathname)));
}

/** Connects to NATS, starts the gateway and serves it with `Deno.serve` on the config's host and port. */
export async function startDenoGateway(opts: DenoGatewayOptions = {}): Promise<DenoGateway> {
  const d = deno();
  const env = opts.env ?? d.env.toObject();
  const file = env["EDGE_SIGNAL_CONFIG_FILE"];
  const configText = opts.configText ?? (file ? await d.readTextFile(file) : undefined);
  const { config, servers, natsOptions } = edgeSetup(env, configText);
  const log = opts.log ?? createLogger(config.logLevel).with({ runtime: "deno" });
  const nc = await connectWebSocket(servers, natsOptions);
  const webRoot = opts.webRoot ? new URL(opts.webRoot.endsWith("/") ? opts.webRoot : opts.webRoot + "/", "file:///") : packageWebRoot;
  type Env = { remoteAddr?: { hostname: string } };
  let gateway: Gateway;
  try {
    gateway = await createGateway({
      config,
      nc,
      log,
      remoteAddress: (c) => (c.env as Env | undefined)?.remoteAddr?.hostname,
      websocket: (c, path, handler, options) => upgrade(c.req.raw, path, handler, options),
      assets: config.statusPage && webRoot.protocol === "file:" ? staticFiles(webRoot) : undefined,
    });
  } catch (e) {
    await nc.close().catch(() => {});
    throw e;
  }
  let listening!: (a: { hostname: string; port: number }) => void;
  const addrP = new Promise<{ hostname: string; port: number }>((r) => (listening = r));
  const server = d.serve({ port: config.port, hostname: config.host, onListen: (a) => listening(a) }, (req, info) =>
    gateway.app.fetch(req, { remoteAddr: info.remoteAddr } satisfies Env),
  );
  const addr = await addrP;
  const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host;
  log.info("edge-signal listening", { url: `http://${host}:${addr.port}`, nid: gateway.nid, nats: nc.getServer() });
  let closing: Promise<void> | undefined;
  return {
    gateway,
    nc,
    port: addr.port,
    url: `http://${host}:${addr.port}`,
    close(drainMs = config.drainTimeoutMs) {
      // Within drainMs whatever the state of NATS (see src/settle-by.ts).
      closing ??= (async () => {
        const deadline = Date.now() + drainMs;
        await gateway.close(drainMs - shutdownTailMs(drainMs));
        await settleBy(server.shutdown(), deadline);
        await closeNatsBy(nc, deadline);
      })();
      return closing;
    },
  };
}

/** `deno run -A src/runtime/deno/index.ts [--config file] [--port n] [--host h]`: serve until SIGINT/SIGTERM. */
async function main(): Promise<void> {
  const d = deno();
  const env = d.env.toObject();
  const args = d.args;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const v = args[i + 1];
    if ((a === "--config" || a === "-c") && v) (env["EDGE_SIGNAL_CONFIG_FILE"] = v), i++;
    else if ((a === "--port" || a === "-p") && v) (env["PORT"] = v), i++;
    else if (a === "--host" && v) (env["HOST"] = v), i++;
    else if (a === "--nats" && v) (env["NATS_URL"] = v), i++;
    else {
      console.error(`unknown argument ${a}\nusage: deno run -A src/runtime/deno/index.ts [--config file] [--port n] [--host h] [--nats ws://...]`);
      d.exit(2);
    }
  }
  let gw: DenoGateway;
  try {
    gw = await startDenoGateway({ env });
  } catch (e) {
    console.error(`edge-signal: ${(e as Error).message}`);
    d.exit(1);
  }
  let signals = 0;
  const stop = () => {
    if (++signals > 1) d.exit(1);
    gw.close().then(
      () => d.exit(0),
      () => d.exit(1),
    );
  };
  d.addSignalListener("SIGINT", stop);
  d.addSignalListener("SIGTERM", stop);
}

if ((import.meta as { main?: boolean }).main) await main();
