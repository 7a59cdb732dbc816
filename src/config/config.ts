/**
 * Configuration: a TOML file in ION's shape (`[signal.grpc]`, `[signal.jwt]`, `[signal.svc]`,
 * `[nats]`, `[global]`) so an ION deployment can point edge-signal at its `signal.toml`, plus
 * edge-signal's own `[edge]` sections, then environment overrides. Defaults live here, in one place.
 * Runtime-neutral: callers read the file and pass its text.
 */
import { parse as parseToml } from "smol-toml";
import { parseAuthConfig } from "../auth/auth-config.js";
import { parseBalancerConfig } from "../balancer/config.js";
import { parseOriginPattern } from "../protocol/origin.js";
import { checkConfigKeys } from "./schema.js";

/** The validated configuration. */
export interface Config {
  /** Data-center id (`[global] dc`). */
  dc: string;
  /** NATS server URL(s) (`[nats] url`); empty = the CLI starts a local nats-server. */
  natsUrl: string;
  /** Listen host and port (`[signal.grpc] host/port`, env HOST/PORT). Port 5551 as ION. */
  host: string;
  port: number;
  /** This gateway's node id (default `signal-` + 6 random chars, as ION). */
  nid: string;
  /** Discovery services routed by protobuf package (`[signal.svc] services`). */
  services: string[];
  /** Explicit routes: package or full service name → discovery service (`[edge.routes]`). */
  routes: Record<string, string>;
  /** Raw auth section (`[signal.jwt]` merged with `[edge.auth]`), validated by the auth module. */
  auth: Record<string, unknown>;
  /**
   * Sender per discovery service (`[edge.go_nodes]`): "auto" (default) sends Go-compatibly to nodes
   * that do not announce an in-order nats-grpc server in discovery, "on" to every node of the
   * service, "off" to none (full speed). See the README's "Go ION nodes".
   */
  goNodes: Record<string, GoNodesMode>;
  /** Gap between the frames of one stream to a Go node (`[edge] go_frame_gap_ms`). */
  goFrameGapMs: number;
  /** Raw balancer section (`[edge.balancer]`), validated by the balancer module. */
  balancer: Record<string, unknown>;
  /** Allowed browser origins for CORS and WebSocket upgrades ("*" = any). */
  allowedOrigins: string[];
  /** Deadline applied when a call has none, and the longest allowed (ms; 0 = none). */
  defaultTimeoutMs: number;
  maxTimeoutMs: number;
  /** Limits. */
  maxMessageBytes: number;
  maxMetadataBytes: number;
  /** Open calls allowed per client IP and in total (0 = unlimited). */
  maxCallsPerIp: number;
  maxCalls: number;
  /**
   * An idle connection is not a call yet, so no call limit counts it: a connection that sends no
   * bytes (Node) and a WebSocket that sends no grpc-websockets header frame are closed after this long
   * (ms; 0 = never).
   */
  idleTimeoutMs: number;
  /** An HTTP/2 session without an open stream is closed (GOAWAY) after this long (ms, Node; 0 = never). */
  idleSessionTimeoutMs: number;
  /** Response bytes queued for a client that reads slowly before its call is cancelled (RESOURCE_EXHAUSTED). */
  maxBufferedBytes: number;
  /**
   * HTTP/2 (Node): response bytes one connection may hold queued for a client that does not read,
   * across its streams; a stream writing past it is reset (ENHANCE_YOUR_CALM). 0 = no bound.
   */
  maxConnectionBufferedBytes: number;
  /** HTTP/2 (Node): a stream with response bytes queued and none sent for this long is reset (ms; 0 = never). */
  writeStallTimeoutMs: number;
  /**
   * HTTP/2 (Node): streams a connection, and a client address across its connections, may open a
   * second on average (`rate`) and at once (`burst`); past it the stream is refused and the connection
   * gets GOAWAY ENHANCE_YOUR_CALM (rapid reset, CVE-2023-44487). 0 = no limit.
   */
  h2StreamRate: number;
  h2StreamBurst: number;
  h2StreamRatePerIp: number;
  h2StreamBurstPerIp: number;
  /**
   * HTTP/1.1 (Node): a request's header block must be in within `httpHeaderTimeoutMs`, the whole
   * request (header and body) within `httpRequestTimeoutMs`, else 408 and the connection is closed
   * (slowloris: a client that sends a byte now and then is never idle). 0 = no limit.
   */
  httpHeaderTimeoutMs: number;
  httpRequestTimeoutMs: number;
  /** Forward `authorization` / `cookie` to backends. */
  forwardAuthorization: boolean;
  forwardCookies: boolean;
  /** Binary FileDescriptorSet files (`buf build -o x.binpb`) giving JSON support for their services. */
  descriptorSets: string[];
  /** Discovery: run an embedded registry, follow NATS micro services. */
  registry: boolean;
  micro: boolean;
  /** Seconds a node may stay unseen before the table drops it (delete missed). */
  nodeExpirySeconds: number;
  /** Seconds between re-reads of the registry (0 = only after a stall or a NATS reconnect). */
  discoveryResyncSeconds: number;
  /** Drain: how long in-flight calls may run after SIGTERM (ms). */
  drainTimeoutMs: number;
  /** Serve the status page and its JSON API. */
  statusPage: boolean;
  /** Most (service, method) pairs named in metric labels; calls to others are counted under `other`. */
  metricsMaxMethods: number;
  /** When set, `/metrics` wants `Authorization: Bearer <token>` (env EDGE_SIGNAL_METRICS_TOKEN). */
  metricsToken: string;
  /**
   * `host:port` (`:port` = every interface) to serve `/metrics` on its own listener (Node) instead of
   * the main port, where it then answers 404 (every runtime). "" = on the main port.
   */
  metricsListen: string;
  /** Log level. */
  logLevel: "debug" | "info" | "warn" | "error";
}

/** How the gateway sends to the nodes of a service: see {@link Config.goNodes}. */
export type GoNodesMode = "auto" | "on" | "off";

/** Default configuration. */
export const defaultConfig: Readonly<Config> = Object.freeze({
  dc: "dc1",
  natsUrl: "",
  host: "0.0.0.0",
  port: 5551,
  nid: "",
  services: ["rtc", "room", "demo"],
  routes: { "demo.v1": "demo" },
  auth: { enabled: false },
  balancer: { services: { rtc: "sticky", room: "sticky" } },
  goNodes: {},
  goFrameGapMs: 2,
  allowedOrigins: ["*"],
  defaultTimeoutMs: 0,
  maxTimeoutMs: 0,
  maxMessageBytes: 4 * 1024 * 1024,
  maxMetadataBytes: 16 * 1024,
  maxCallsPerIp: 1000,
  maxCalls: 50_000,
  idleTimeoutMs: 10_000,
  idleSessionTimeoutMs: 60_000,
  maxBufferedBytes: 8 * 1024 * 1024,
  maxConnectionBufferedBytes: 32 * 1024 * 1024,
  writeStallTimeoutMs: 60_000,
  h2StreamRate: 200,
  h2StreamBurst: 400,
  h2StreamRatePerIp: 500,
  h2StreamBurstPerIp: 1000,
  httpHeaderTimeoutMs: 60_000,
  httpRequestTimeoutMs: 300_000,
  forwardAuthorization: false,
  forwardCookies: false,
  descriptorSets: [],
  registry: false,
  micro: true,
  nodeExpirySeconds: 7,
  discoveryResyncSeconds: 30,
  drainTimeoutMs: 10_000,
  statusPage: true,
  metricsMaxMethods: 500,
  metricsToken: "",
  metricsListen: "",
  logLevel: "info",
}) as Config;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * The keys the builder reads, by table path ("" = the top level), recorded while {@link configKeys}
 * runs it on an empty config: the schema of every key this file knows, kept in step with the code
 * that reads them (a key added to `buildConfig` is known to the unknown-key check at once).
 */
let noted: Map<string, Set<string>> | undefined;

function note(where: string, key: string): void {
  if (!noted) return;
  let keys = noted.get(where);
  if (!keys) noted.set(where, (keys = new Set()));
  if (key) keys.add(key);
}

/**
 * While recording, a missing table is a Proxy that notes every key read from it, so a key the builder
 * only looks at (`edge.balancer !== undefined ? …`) is in the schema as well as those the typed readers take.
 */
function recorder(where: string): Obj {
  return new Proxy({}, {
    get(_, key) {
      if (typeof key === "string") note(where, key);
      return undefined;
    },
  });
}

function section(root: Obj, ...path: string[]): Obj {
  for (let i = 0; i < path.length; i++) note(path.slice(0, i).join("."), path[i]!);
  note(path.join("."), "");
  let cur: unknown = root;
  for (let i = 0; i < path.length; i++) {
    cur = (cur as Obj)[path[i]!];
    if (cur === undefined) return noted ? recorder(path.join(".")) : {};
    if (!isObj(cur)) throw new Error(`config: [${path.slice(0, i + 1).join(".")}] must be a table`);
  }
  return cur as Obj;
}

function str(o: Obj, key: string, where: string, dflt: string): string {
  note(where, key);
  const v = o[key];
  if (v === undefined) return dflt;
  if (typeof v !== "string") throw new Error(`config: ${where}.${key} must be a string`);
  return v;
}

function num(o: Obj, key: string, where: string, dflt: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  note(where, key);
  let v = o[key];
  if (v === undefined) return dflt;
  if (typeof v === "bigint") v = Number(v);
  if (typeof v === "string" && /^\d+$/.test(v)) v = Number(v); // viper's weak typing: port = "5551"
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max) {
    throw new Error(`config: ${where}.${key} must be a number between ${min} and ${max}`);
  }
  // Every number here counts something (a port, ms, bytes, calls): 5551.5 or 5e-324 is a mistake.
  if (!Number.isInteger(v)) throw new Error(`config: ${where}.${key} must be a whole number`);
  return v;
}

function bool(o: Obj, key: string, where: string, dflt: boolean): boolean {
  note(where, key);
  const v = o[key];
  if (v === undefined) return dflt;
  if (typeof v !== "boolean") throw new Error(`config: ${where}.${key} must be true or false`);
  return v;
}

function strList(o: Obj, key: string, where: string, dflt: string[]): string[] {
  note(where, key);
  const v = o[key];
  if (v === undefined) return dflt;
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) throw new Error(`config: ${where}.${key} must be a list of strings`);
  return v as string[];
}

/** Parses TOML text into a raw object (throws with the parser's message on bad TOML). */
export function parseConfigText(text: string): Obj {
  try {
    return parseToml(text) as Obj;
  } catch (e) {
    throw new Error(`config: invalid TOML: ${(e as Error).message.split("\n")[0]}`);
  }
}

/**
 * Builds a validated Config from a raw (TOML-parsed) object and environment variables, checking
 * everything before anything starts: unknown keys anywhere (with their path and a "did you mean"),
 * types and ranges, the environment overrides, and the `[signal.jwt]`/`[edge.auth]` and
 * `[edge.balancer]` sections through their own parsers (so `createGateway` cannot fail on config
 * after touching NATS). Throws a plain Error whose message holds every problem found, one per line
 * (also as `errors`).
 */
export function resolveConfig(raw: Obj = {}, env: Record<string, string | undefined> = {}): Config {
  const errors = checkConfigKeys(raw, configKeys());
  let cfg: Config | undefined;
  try {
    cfg = buildConfig(raw, env);
  } catch (e) {
    errors.push((e as Error).message);
  }
  // The sections other parsers own are checked even when the rest failed, so every problem is listed.
  const sub = (o: unknown, k: string): Obj => (isObj(o) && isObj(o[k]) ? (o[k] as Obj) : {});
  const authRaw = cfg?.auth ?? { ...sub(sub(raw, "signal"), "jwt"), ...sub(sub(raw, "edge"), "auth") };
  const balancerRaw = cfg?.balancer ?? (isObj(raw.edge) && raw.edge.balancer !== undefined ? raw.edge.balancer : undefined);
  // An unknown auth key is already reported with its own table's path; the auth parser would repeat it.
  if (!errors.some((e) => /^config: (signal\.jwt|edge\.auth)\./.test(e))) {
    try {
      parseAuthConfig(authRaw);
    } catch (e) {
      errors.push(`config: ${(e as Error).message}`);
    }
  }
  try {
    parseBalancerConfig(balancerRaw);
  } catch (e) {
    errors.push(`config: ${(e as Error).message.replace(/^balancer/, "edge.balancer")}`);
  }
  if (errors.length > 0 || !cfg) throw Object.assign(new Error(errors.join("\n")), { errors });
  return cfg;
}

let knownKeys: ReadonlyMap<string, ReadonlySet<string>> | undefined;

/** Every key `resolveConfig` reads itself, by table path ("" = top level; sections included as keys). */
export function configKeys(): ReadonlyMap<string, ReadonlySet<string>> {
  if (!knownKeys) {
    noted = new Map();
    try {
      buildConfig({}, {});
      knownKeys = noted;
    } finally {
      noted = undefined;
    }
  }
  return knownKeys;
}

function buildConfig(raw: Obj, env: Record<string, string | undefined>): Config {
  const global = section(raw, "global");
  const nats = section(raw, "nats");
  const grpc = section(raw, "signal", "grpc");
  const jwt = section(raw, "signal", "jwt");
  const svc = section(raw, "signal", "svc");
  const edge = section(raw, "edge");
  const d = defaultConfig;
  const routesRaw = section(raw, "edge", "routes");
  const routes: Record<string, string> = { ...d.routes };
  for (const [k, v] of Object.entries(routesRaw)) {
    if (typeof v !== "string") throw new Error(`config: edge.routes.${k} must be a string`);
    routes[k] = v;
  }
  const goNodes: Record<string, GoNodesMode> = {};
  for (const [k, v] of Object.entries(section(raw, "edge", "go_nodes"))) {
    if (v !== "auto" && v !== "on" && v !== "off") throw new Error(`config: edge.go_nodes.${k} must be "auto", "on" or "off"`);
    goNodes[k] = v;
  }
  const logLevel = str(section(raw, "log"), "level", "log", d.logLevel);
  if (!["debug", "info", "warn", "error"].includes(logLevel)) throw new Error("config: log.level must be debug, info, warn or error");
  const cfg: Config = {
    dc: str(global, "dc", "global", d.dc),
    natsUrl: str(nats, "url", "nats", d.natsUrl),
    host: str(grpc, "host", "signal.grpc", d.host),
    port: num(grpc, "port", "signal.grpc", d.port, 0, 65535),
    nid: str(edge, "nid", "edge", d.nid),
    services: strList(svc, "services", "signal.svc", d.services),
    routes,
    auth: { ...jwt, ...section(raw, "edge", "auth") },
    goNodes,
    goFrameGapMs: num(edge, "go_frame_gap_ms", "edge", d.goFrameGapMs, 0, 1000),
    balancer: edge.balancer !== undefined ? section(raw, "edge", "balancer") : d.balancer,
    allowedOrigins: strList(edge, "allowed_origins", "edge", d.allowedOrigins),
    defaultTimeoutMs: num(edge, "default_timeout_ms", "edge", d.defaultTimeoutMs),
    maxTimeoutMs: num(edge, "max_timeout_ms", "edge", d.maxTimeoutMs),
    maxMessageBytes: num(edge, "max_message_bytes", "edge", d.maxMessageBytes, 1, 1 << 30),
    maxMetadataBytes: num(edge, "max_metadata_bytes", "edge", d.maxMetadataBytes, 256, 1 << 20),
    maxCallsPerIp: num(edge, "max_calls_per_ip", "edge", d.maxCallsPerIp),
    maxCalls: num(edge, "max_calls", "edge", d.maxCalls),
    idleTimeoutMs: num(edge, "idle_timeout_ms", "edge", d.idleTimeoutMs),
    idleSessionTimeoutMs: num(edge, "idle_session_timeout_ms", "edge", d.idleSessionTimeoutMs),
    maxBufferedBytes: num(edge, "max_buffered_bytes", "edge", d.maxBufferedBytes, 64 * 1024, 1 << 30),
    maxConnectionBufferedBytes: num(edge, "max_connection_buffered_bytes", "edge", d.maxConnectionBufferedBytes, 0, 1 << 30),
    writeStallTimeoutMs: num(edge, "write_stall_timeout_ms", "edge", d.writeStallTimeoutMs),
    h2StreamRate: num(edge, "h2_stream_rate", "edge", d.h2StreamRate),
    h2StreamBurst: num(edge, "h2_stream_burst", "edge", d.h2StreamBurst),
    h2StreamRatePerIp: num(edge, "h2_stream_rate_per_ip", "edge", d.h2StreamRatePerIp),
    h2StreamBurstPerIp: num(edge, "h2_stream_burst_per_ip", "edge", d.h2StreamBurstPerIp),
    httpHeaderTimeoutMs: num(edge, "http_header_timeout_ms", "edge", d.httpHeaderTimeoutMs),
    httpRequestTimeoutMs: num(edge, "http_request_timeout_ms", "edge", d.httpRequestTimeoutMs),
    forwardAuthorization: bool(edge, "forward_authorization", "edge", d.forwardAuthorization),
    forwardCookies: bool(edge, "forward_cookies", "edge", d.forwardCookies),
    descriptorSets: strList(edge, "descriptor_sets", "edge", d.descriptorSets),
    registry: bool(section(raw, "edge", "discovery"), "registry", "edge.discovery", d.registry),
    micro: bool(section(raw, "edge", "discovery"), "micro", "edge.discovery", d.micro),
    nodeExpirySeconds: num(section(raw, "edge", "discovery"), "node_expiry_s", "edge.discovery", d.nodeExpirySeconds, 1, 3600),
    discoveryResyncSeconds: num(section(raw, "edge", "discovery"), "resync_s", "edge.discovery", d.discoveryResyncSeconds, 0, 86_400),
    drainTimeoutMs: num(edge, "drain_timeout_ms", "edge", d.drainTimeoutMs),
    statusPage: bool(edge, "status_page", "edge", d.statusPage),
    metricsMaxMethods: num(edge, "metrics_max_methods", "edge", d.metricsMaxMethods, 0, 100_000),
    metricsToken: str(edge, "metrics_token", "edge", d.metricsToken),
    metricsListen: str(edge, "metrics_listen", "edge", d.metricsListen),
    logLevel: logLevel as Config["logLevel"],
  };
  if (cfg.httpHeaderTimeoutMs > 0 && cfg.httpRequestTimeoutMs > 0 && cfg.httpHeaderTimeoutMs > cfg.httpRequestTimeoutMs) {
    throw new Error("config: edge.http_header_timeout_ms must not be longer than edge.http_request_timeout_ms (the header is part of the request)");
  }
  applyEnv(cfg, env);
  checkOrigins(cfg.allowedOrigins);
  if (cfg.metricsListen !== "" && !parseListenAddress(cfg.metricsListen)) throw new Error("config: edge.metrics_listen must be host:port or :port");
  if (/[\s]/.test(cfg.metricsToken)) throw new Error("config: edge.metrics_token must not contain whitespace");
  return cfg;
}

/** Refuses allow-list entries that are neither `*` nor `scheme://host[:port]` (host may start `*.`): they would match nothing. */
function checkOrigins(list: readonly string[]): void {
  for (const o of list) {
    if (o !== "*" && !parseOriginPattern(o)) {
      throw new Error(`config: edge.allowed_origins: ${JSON.stringify(o.slice(0, 80))} is not "*" or scheme://host[:port] (host may start with "*.")`);
    }
  }
}

/** Environment overrides, each documented in the README's config reference. */
export const envOverrides: Readonly<Record<string, string>> = {
  EDGE_SIGNAL_NATS_URL: "nats url (also NATS_URL)",
  PORT: "listen port",
  HOST: "listen host",
  EDGE_SIGNAL_NID: "gateway node id",
  EDGE_SIGNAL_DC: "data-center id",
  EDGE_SIGNAL_SERVICES: "comma-separated services",
  EDGE_SIGNAL_ALLOWED_ORIGINS: "comma-separated origins",
  EDGE_SIGNAL_JWT_ENABLED: "true/false",
  EDGE_SIGNAL_JWT_KEY: "HMAC shared key",
  EDGE_SIGNAL_JWKS_URL: "JWKS URL",
  EDGE_SIGNAL_LOG_LEVEL: "debug|info|warn|error",
  EDGE_SIGNAL_METRICS_TOKEN: "bearer token /metrics wants",
};

/** Splits `host:port`, `[v6]:port` or `:port` (host "" = every interface); undefined when malformed. */
export function parseListenAddress(text: string): { host: string; port: number } | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]*):(\d{1,5})$/.exec(text);
  if (!m || Number(m[2]) > 65535) return undefined;
  return { host: m[1]!.replace(/^\[(.*)\]$/, "$1"), port: Number(m[2]) };
}

function applyEnv(cfg: Config, env: Record<string, string | undefined>): void {
  const e = (k: string) => {
    const v = env[k];
    return v === undefined || v === "" ? undefined : v;
  };
  const nats = e("EDGE_SIGNAL_NATS_URL") ?? e("NATS_URL");
  if (nats) cfg.natsUrl = nats;
  const port = e("PORT");
  if (port) {
    if (!/^\d+$/.test(port) || Number(port) > 65535) throw new Error("env: PORT must be a port number");
    cfg.port = Number(port);
  }
  cfg.host = e("HOST") ?? cfg.host;
  cfg.nid = e("EDGE_SIGNAL_NID") ?? cfg.nid;
  cfg.dc = e("EDGE_SIGNAL_DC") ?? cfg.dc;
  const list = (v: string | undefined) => v?.split(",").map((s) => s.trim()).filter(Boolean);
  cfg.services = list(e("EDGE_SIGNAL_SERVICES")) ?? cfg.services;
  cfg.allowedOrigins = list(e("EDGE_SIGNAL_ALLOWED_ORIGINS")) ?? cfg.allowedOrigins;
  const enabled = e("EDGE_SIGNAL_JWT_ENABLED");
  if (enabled) {
    if (!/^(true|false|1|0)$/i.test(enabled)) throw new Error("env: EDGE_SIGNAL_JWT_ENABLED must be true, false, 1 or 0");
    cfg.auth = { ...cfg.auth, enabled: /^(true|1)$/i.test(enabled) };
  }
  const key = e("EDGE_SIGNAL_JWT_KEY");
  if (key) cfg.auth = { ...cfg.auth, key };
  const jwks = e("EDGE_SIGNAL_JWKS_URL");
  if (jwks) cfg.auth = { ...cfg.auth, jwks_url: jwks };
  cfg.metricsToken = e("EDGE_SIGNAL_METRICS_TOKEN") ?? cfg.metricsToken;
  const lvl = e("EDGE_SIGNAL_LOG_LEVEL");
  if (lvl) {
    if (!["debug", "info", "warn", "error"].includes(lvl)) throw new Error("env: EDGE_SIGNAL_LOG_LEVEL must be debug, info, warn or error");
    cfg.logLevel = lvl as Config["logLevel"];
  }
}
