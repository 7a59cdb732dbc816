/**
 * `edge-signal` — the command line. Node only.
 *
 *   edge-signal demo      local default: nats-server (if no --nats), registry, 2 demo nodes, gateway
 *   edge-signal serve     the gateway (config file, flags, env)
 *   edge-signal registry  an ION-compatible nats-discovery registry
 *   edge-signal token     mint a test JWT from the configured key
 *   edge-signal check     check a config file (with env and flags): the effective config, or the errors
 */
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import type { NatsConnection } from "@nats-io/nats-core";
import { mintToken, parseAuthConfig } from "../auth/index.js";
import { envOverrides, ignoredIonKeys, parseConfigText, redactConfig, resolveConfig, unknownEnvNotes, type Config } from "../config/index.js";
import { startDemoNode, type DemoNode } from "../demo/node.js";
import { startRegistry, type Registry as DiscoveryRegistry } from "../discovery/index.js";
import { connectNats } from "../runtime/node/nats-connect.js";
import { dataEnvelopeBytes } from "../nrpc/envelope.js";
import { createLogger, type Logger } from "../observability/logger.js";
import { startNodeGateway, type NodeGateway } from "../runtime/node/index.js";
import { closeNatsBy, settleBy, shutdownTailMs } from "../settle-by.js";
import { startNatsServer, type NatsServer } from "./nats-server.js";

const help = `edge-signal — browsers to gRPC services on NATS (ION nats-grpc)

Usage: edge-signal <command> [options]

Commands:
  demo       Run the local default: a nats-server (started for you unless --nats is given),
             a discovery registry, demo nodes serving demo.v1.EchoService, and the gateway
             with its status page. This is what \`npm start\` runs.
  serve      Run the gateway. Needs a NATS URL (--nats, [nats] url, or EDGE_SIGNAL_NATS_URL).
  registry   Run an ION-compatible nats-discovery registry (for deployments without ION's islb).
  token      Print a JWT signed with the configured HMAC key, for trying things out.
  check      Check a config (-c file, env, flags) without starting anything: print the effective
             config as JSON (secrets redacted), or every problem found and exit 1.

Options:
  -c, --config <file>    TOML config (ION signal.toml shape plus [edge] sections)
      --nats <url>       NATS URL(s): nats://host:4222 (TCP) or ws://host:port (WebSocket)
  -p, --port <n>         listen port (default 5551, env PORT)
      --host <h>         listen host (default 0.0.0.0)
      --nodes <n>        demo: number of demo nodes (default 2)
      --registry         serve: also run an embedded registry
      --uid <id> --sid <room> --services <a,b> --ttl <s>   token claims
      --key <secret>     token: HMAC key (default [signal.jwt] key or EDGE_SIGNAL_JWT_KEY)
  -h, --help             this help
`;

interface Args {
  config?: string;
  nats?: string;
  port?: string;
  host?: string;
  nodes?: string;
  registry?: boolean;
  uid?: string;
  sid?: string;
  services?: string;
  ttl?: string;
  key?: string;
  help?: boolean;
}

async function loadConfig(args: Args): Promise<Config> {
  const cfg = resolveConfig(await readRawConfig(args), process.env);
  if (args.nats) cfg.natsUrl = args.nats;
  if (args.port) cfg.port = Number(args.port);
  if (args.host) cfg.host = args.host;
  if (args.registry) cfg.registry = true;
  return cfg;
}

/**
 * The `max_payload` `demo` gives its nats-server: the largest request message the gateway takes
 * (`edge.max_message_bytes`, 4 MiB by default) in its nats-grpc envelope, so that every message the
 * gateway accepts can be published; at least nats-server's own 1 MiB, at most the 64 MiB it allows
 * (its default max_pending). Default: 4,194,314 bytes.
 */
export function demoMaxPayload(cfg: Config): number {
  return Math.min(64 * 1024 * 1024, Math.max(1024 * 1024, dataEnvelopeBytes(cfg.maxMessageBytes)));
}

/** The TOML of `-c file` as an object (`{}` without one). */
async function readRawConfig(args: Args): Promise<Record<string, unknown>> {
  if (!args.config) return {};
  let text: string;
  try {
    text = await readFile(args.config, "utf8");
  } catch (e) {
    throw new Error(`config: cannot read ${args.config}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseConfigText(text);
}

/** `edge-signal check`: the effective config (secrets redacted) on stdout, or every problem on stderr and exit code 1. */
async function check(args: Args): Promise<void> {
  let cfg: Config;
  let raw: Record<string, unknown> = {};
  try {
    raw = await readRawConfig(args);
    cfg = await loadConfig(args);
  } catch (e) {
    const errors = (e as { errors?: string[] }).errors ?? [(e as Error).message];
    process.stderr.write(`edge-signal check: ${args.config ?? "(no file)"}: ${errors.length} problem${errors.length === 1 ? "" : "s"}\n${errors.map((m) => `  ${m}\n`).join("")}`);
    process.exitCode = 1;
    return;
  }
  for (const k of ignoredIonKeys(raw)) process.stderr.write(`edge-signal check: note: ${k} is an ION key edge-signal accepts and does not use\n`);
  for (const n of unknownEnvNotes(process.env, Object.keys(envOverrides))) process.stderr.write(`edge-signal check: note: ${n}\n`);
  process.stdout.write(JSON.stringify(redactConfig(cfg), null, 2) + "\n");
}

/**
 * Stops everything on SIGTERM/SIGINT: drain the gateway, then the rest, within `drainMs`
 * (`edge.drain_timeout_ms`) whatever the state of NATS: `stop` gets the deadline and bounds each of
 * its steps by it. A backstop exits 1 a second after the deadline should a step not be bounded; a
 * second signal exits at once.
 */
function onShutdown(log: Logger, drainMs: number, stop: (deadline: number) => Promise<void>): void {
  let stopping = false;
  const handler = (sig: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    log.info("shutting down", { signal: sig, drain_timeout_ms: drainMs });
    setTimeout(() => {
      log.error("shutdown did not finish within drain_timeout_ms: exiting", { drain_timeout_ms: drainMs });
      process.exit(1);
    }, drainMs + 1000).unref();
    stop(Date.now() + drainMs).then(
      () => process.exit(0),
      (e) => {
        log.error("shutdown failed", { error: String(e) });
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => handler("SIGTERM"));
  process.on("SIGINT", () => handler("SIGINT"));
}

async function serve(args: Args, demo: boolean): Promise<void> {
  const cfg = await loadConfig(args);
  const log = createLogger(cfg.logLevel);
  let nats: NatsServer | undefined;
  if (!cfg.natsUrl) {
    if (!demo) throw new Error("no NATS URL: pass --nats <url>, set [nats] url or EDGE_SIGNAL_NATS_URL (or run `edge-signal demo`)");
    // In its own process group: a terminal's Ctrl-C reaches this process only, which stops the server last.
    nats = await startNatsServer({ jetstream: true, maxPayload: demoMaxPayload(cfg), ownProcessGroup: true });
    cfg.natsUrl = nats.url;
  }
  const nc = await connectNats(cfg.natsUrl, { name: "edge-signal" });
  const nodes: { node: DemoNode; nc: NatsConnection }[] = [];
  let reg: DiscoveryRegistry | undefined;
  if (demo) {
    // The registry first, so the demo nodes' first `save` is heard.
    reg = await startRegistry(nc, { log: (level, msg, fields) => log[level](msg, fields) });
    cfg.registry = false;
    const n = Number(args.nodes ?? 2);
    for (let i = 0; i < n; i++) {
      const nodeNc = await connectNats(cfg.natsUrl, { name: "edge-signal-demo-node" });
      nodes.push({ node: await startDemoNode(nodeNc, { dc: cfg.dc, natsUrl: cfg.natsUrl }), nc: nodeNc });
    }
  }
  let gw: NodeGateway;
  try {
    gw = await startNodeGateway({ config: cfg, nc, log });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EADDRINUSE") throw new Error(`port ${cfg.port} is in use: pass --port or set PORT`);
    throw e;
  }
  const lines = [
    `edge-signal ${demo ? "demo " : ""}is up (node ${gw.gateway.nid})`,
    `  gateway        ${gw.url}  (Connect, gRPC-Web, grpc-websockets, gRPC h2c)`,
    cfg.statusPage ? `  status page    ${gw.url}/` : "",
    `  health         ${gw.url}/healthz  ${gw.url}/readyz  ${gw.metricsUrl ?? `${gw.url}/metrics`}${cfg.metricsToken ? "  (metrics want the bearer token)" : ""}`,
    `  NATS           ${cfg.natsUrl}${nats ? `  (started for you; websocket ${nats.wsUrl})` : ""}`,
    `  services       ${cfg.services.join(", ")}  routes ${Object.entries(cfg.routes).map(([k, v]) => `${k}→${v}`).join(", ")}`,
    `  auth           ${gw.gateway.auth.enabled ? "JWT required" : "off"}`,
    cfg.registry || reg ? `  registry       embedded (nats-discovery)` : "",
    nodes.length ? `  demo nodes     ${nodes.map((n) => n.node.nid).join(", ")}` : "",
    nodes.length
      ? `  try it         curl -s -H 'content-type: application/json' -d '{"message":"hi"}' ${gw.url}/demo.v1.EchoService/Echo`
      : "",
  ].filter(Boolean);
  process.stdout.write(lines.join("\n") + "\n");
  onShutdown(log, cfg.drainTimeoutMs, async (deadline) => {
    const total = deadline - Date.now();
    await gw.close(total - shutdownTailMs(total));
    // The rest waits on NATS (discovery deletes, the drain): each step gets the time left, no more.
    await Promise.all(
      nodes.map(async ({ node, nc: n }) => {
        await settleBy(node.close(), deadline);
        await settleBy(n.close(), deadline);
      }),
    );
    await settleBy(reg?.stop(), deadline);
    await closeNatsBy(nc, deadline);
    await settleBy(nats?.stop(), deadline);
  });
}

async function registry(args: Args): Promise<void> {
  const cfg = await loadConfig(args);
  const log = createLogger(cfg.logLevel);
  if (!cfg.natsUrl) throw new Error("no NATS URL: pass --nats <url>");
  const nc = await connectNats(cfg.natsUrl, { name: "edge-signal-registry" });
  const reg = await startRegistry(nc, { log: (level, msg, fields) => log[level](msg, fields) });
  process.stdout.write(`edge-signal registry is up on ${cfg.natsUrl}\n`);
  onShutdown(log, cfg.drainTimeoutMs, async (deadline) => {
    await settleBy(reg.stop(), deadline);
    await closeNatsBy(nc, deadline);
  });
}

async function token(args: Args): Promise<void> {
  const cfg = await loadConfig(args);
  const authRaw: Record<string, unknown> = { ...cfg.auth, enabled: true, ...(args.key ? { key: args.key } : {}) };
  if (!authRaw.key && !authRaw.keys) throw new Error("no HMAC key: pass --key, set [signal.jwt] key or EDGE_SIGNAL_JWT_KEY");
  const claims: Record<string, unknown> = {
    uid: args.uid ?? "user",
    sid: args.sid ?? "room",
    services: (args.services ?? cfg.services.join(",")).split(",").map((s) => s.trim()).filter(Boolean),
  };
  process.stdout.write((await mintToken(parseAuthConfig(authRaw), claims, { expiresInS: Number(args.ttl ?? 3600) })) + "\n");
}

/** Runs the CLI with `argv` (without node and script). */
export async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: "string", short: "c" },
      nats: { type: "string" },
      port: { type: "string", short: "p" },
      host: { type: "string" },
      nodes: { type: "string" },
      registry: { type: "boolean" },
      uid: { type: "string" },
      sid: { type: "string" },
      services: { type: "string" },
      ttl: { type: "string" },
      key: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const args = values as Args;
  const cmd = positionals[0];
  if (args.help || !cmd || cmd === "help") {
    process.stdout.write(help);
    return;
  }
  switch (cmd) {
    case "demo":
      return serve(args, true);
    case "serve":
      return serve(args, false);
    case "registry":
      return registry(args);
    case "token":
      return token(args);
    case "check":
      return check(args);
    default:
      throw new Error(`unknown command ${JSON.stringify(cmd)}; see --help`);
  }
}
