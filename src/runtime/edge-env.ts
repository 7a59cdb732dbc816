/**
 * Configuration of the edge runtimes (Cloudflare Workers, Deno) from plain string variables: Worker
 * vars and secrets, or Deno's environment. Runtime-neutral.
 *
 * | variable                    | meaning                                                              |
 * |-----------------------------|----------------------------------------------------------------------|
 * | `EDGE_SIGNAL_CONFIG`        | the TOML config text (ION `signal.toml` shape + `[edge]`), optional   |
 * | `NATS_URL`                  | `ws://` / `wss://` URL(s) of NATS WebSocket ports, comma-separated    |
 * | `NATS_USER`, `NATS_PASS`    | NATS user/password                                                    |
 * | `NATS_TOKEN`                | NATS token                                                            |
 * | `NATS_CREDS`                | the text of a NATS `.creds` file (JWT + nkey seed)                     |
 * | `JWT_KEY`                   | HMAC key of `[signal.jwt]` (alias of `EDGE_SIGNAL_JWT_KEY`)            |
 * | `JWKS_URL`                  | alias of `EDGE_SIGNAL_JWKS_URL`                                       |
 * | `JWT_ENABLED`               | alias of `EDGE_SIGNAL_JWT_ENABLED`                                    |
 * | every `EDGE_SIGNAL_*`, `PORT`, `HOST` of `resolveConfig`                                             |
 *
 * A key or JWKS URL given by variable with no explicit `*_JWT_ENABLED` turns auth on: a secret that
 * is set is meant to be checked (fail closed).
 */
import { credsAuthenticator, type ConnectionOptions } from "@nats-io/nats-core";
import { parseConfigText, resolveConfig, type Config } from "../config/index.js";

/** What an edge runtime needs to start: the config and how to reach NATS. */
export interface EdgeSetup {
  config: Config;
  /** `ws://` / `wss://` server URLs. */
  servers: string[];
  /** Credentials and name for `connectWebSocket`. */
  natsOptions: Partial<ConnectionOptions>;
}

const aliases: Readonly<Record<string, string>> = {
  JWT_KEY: "EDGE_SIGNAL_JWT_KEY",
  JWKS_URL: "EDGE_SIGNAL_JWKS_URL",
  JWT_ENABLED: "EDGE_SIGNAL_JWT_ENABLED",
};

/** Keeps the string-valued entries (a Worker's `env` also holds bindings such as Durable Objects). */
export function stringEnv(env: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (typeof v === "string") out[k] = v;
  return out;
}

/**
 * Builds the config and the NATS connection options of an edge runtime from its variables. Throws
 * an Error naming the problem (bad TOML, missing or non-WebSocket NATS URL, ...).
 * @param configText TOML text read by the runtime (Deno: a file); default `EDGE_SIGNAL_CONFIG`.
 */
export function edgeSetup(rawEnv: Record<string, unknown>, configText?: string): EdgeSetup {
  const env = stringEnv(rawEnv);
  for (const [alias, name] of Object.entries(aliases)) if (env[alias] && !env[name]) env[name] = env[alias]!;
  if ((env["EDGE_SIGNAL_JWT_KEY"] || env["EDGE_SIGNAL_JWKS_URL"]) && !env["EDGE_SIGNAL_JWT_ENABLED"]) env["EDGE_SIGNAL_JWT_ENABLED"] = "true";
  const text = configText ?? env["EDGE_SIGNAL_CONFIG"];
  const config = resolveConfig(text ? parseConfigText(text) : {}, env);
  const servers = config.natsUrl.split(",").map((s) => s.trim()).filter(Boolean);
  if (servers.length === 0) throw new Error("config: NATS_URL is required (the ws:// or wss:// URL of a NATS WebSocket port)");
  for (const s of servers) {
    if (!/^wss?:\/\//i.test(s)) throw new Error(`config: NATS URL "${s}" must be ws:// or wss:// (only WebSockets reach NATS from this runtime)`);
  }
  const natsOptions: Partial<ConnectionOptions> = { name: `edge-signal ${config.nid || "gateway"}` };
  if (env["NATS_USER"]) natsOptions.user = env["NATS_USER"];
  if (env["NATS_PASS"]) natsOptions.pass = env["NATS_PASS"];
  if (env["NATS_TOKEN"]) natsOptions.token = env["NATS_TOKEN"];
  if (env["NATS_CREDS"]) natsOptions.authenticator = credsAuthenticator(new TextEncoder().encode(env["NATS_CREDS"]));
  return { config, servers, natsOptions };
}
