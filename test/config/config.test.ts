// Configuration: ION's signal.toml works unchanged, edge-signal's own sections and environment
// overrides apply, and bad input is a clear error.
import assert from "node:assert/strict";
import { test } from "node:test";
import { defaultConfig, parseConfigText, resolveConfig } from "../../src/config/index.js";
import { createLogger } from "../../src/observability/logger.js";

const ionSignalToml = `
[global]
dc = "dc1"

[log]
level = "info"

[nats]
url = "nats://127.0.0.1:4222"

[signal.grpc]
host = "0.0.0.0"
port = "5551"
allow_all_origins = true
#cert = "configs/certs/cert.pem"
#key = "configs/certs/key.pem"

[signal.jwt]
enabled = false
key_type = "HMAC"
key = "1q2dGu5pzikcrECJgW3ADfXX3EsmoD99SYvSVCpDsJrAqxou5tUNbHPvkEFI4bTS"

[signal.svc]
services = ["rtc", "room"]
`;

test("ION's signal.toml is accepted as is", () => {
  const cfg = resolveConfig(parseConfigText(ionSignalToml), {});
  assert.equal(cfg.dc, "dc1");
  assert.equal(cfg.natsUrl, "nats://127.0.0.1:4222");
  assert.equal(cfg.host, "0.0.0.0");
  assert.equal(cfg.port, 5551, "viper's weak typing: a string port is a number");
  assert.deepEqual(cfg.services, ["rtc", "room"]);
  assert.equal(cfg.auth.enabled, false);
  assert.equal(cfg.auth.key_type, "HMAC");
  assert.equal(cfg.logLevel, "info");
});

test("defaults without a file", () => {
  const cfg = resolveConfig({}, {});
  assert.equal(cfg.port, 5551);
  assert.equal(cfg.maxMessageBytes, 4 * 1024 * 1024);
  assert.equal(cfg.maxMetadataBytes, 16 * 1024);
  assert.deepEqual(cfg.routes, { "demo.v1": "demo" });
  assert.deepEqual(cfg.balancer, defaultConfig.balancer);
  assert.equal(cfg.registry, false);
});

test("[edge] sections", () => {
  const cfg = resolveConfig(
    parseConfigText(`
[edge]
nid = "edge-1"
allowed_origins = ["https://app.example"]
max_message_bytes = 1024
default_timeout_ms = 30000
max_timeout_ms = 60000
[edge.routes]
"grpc.health.v1" = "health"
[edge.auth]
audience = "edge-signal"
[edge.balancer]
default = "round_robin"
[edge.discovery]
registry = true
micro = false
`),
    {},
  );
  assert.equal(cfg.nid, "edge-1");
  assert.deepEqual(cfg.allowedOrigins, ["https://app.example"]);
  assert.equal(cfg.maxMessageBytes, 1024);
  assert.equal(cfg.defaultTimeoutMs, 30000);
  assert.equal(cfg.maxTimeoutMs, 60000);
  assert.equal(cfg.routes["grpc.health.v1"], "health");
  assert.equal(cfg.routes["demo.v1"], "demo", "the demo route stays");
  assert.equal(cfg.auth.audience, "edge-signal");
  assert.deepEqual({ ...cfg.balancer }, { default: "round_robin" });
  assert.equal(cfg.registry, true);
  assert.equal(cfg.micro, false);
});

test("environment overrides the file", () => {
  const cfg = resolveConfig(parseConfigText(ionSignalToml), {
    EDGE_SIGNAL_NATS_URL: "ws://127.0.0.1:9222",
    PORT: "8080",
    HOST: "127.0.0.1",
    EDGE_SIGNAL_SERVICES: "rtc, room ,demo",
    EDGE_SIGNAL_ALLOWED_ORIGINS: "https://a.example,https://b.example",
    EDGE_SIGNAL_JWT_ENABLED: "true",
    EDGE_SIGNAL_JWT_KEY: "k",
    EDGE_SIGNAL_LOG_LEVEL: "debug",
    EDGE_SIGNAL_NID: "signal-env",
    EDGE_SIGNAL_DC: "dc9",
  });
  assert.equal(cfg.natsUrl, "ws://127.0.0.1:9222");
  assert.equal(cfg.port, 8080);
  assert.equal(cfg.host, "127.0.0.1");
  assert.deepEqual(cfg.services, ["rtc", "room", "demo"]);
  assert.deepEqual(cfg.allowedOrigins, ["https://a.example", "https://b.example"]);
  assert.equal(cfg.auth.enabled, true);
  assert.equal(cfg.auth.key, "k");
  assert.equal(cfg.logLevel, "debug");
  assert.equal(cfg.nid, "signal-env");
  assert.equal(cfg.dc, "dc9");
  assert.equal(resolveConfig({}, { NATS_URL: "nats://x:1" }).natsUrl, "nats://x:1");
});

test("bad input is a clear error", () => {
  const bad: [string, RegExp][] = [
    ["[signal.grpc]\nport = 70000", /signal\.grpc\.port must be a number between 0 and 65535/],
    ["[signal.grpc]\nport = \"http\"", /signal\.grpc\.port/],
    ["[signal.svc]\nservices = \"rtc\"", /signal\.svc\.services must be a list of strings/],
    ["[edge]\nforward_cookies = \"yes\"", /edge\.forward_cookies must be true or false/],
    ["[edge.routes]\nx = 1", /edge\.routes\.x must be a string/],
    ["[log]\nlevel = \"loud\"", /log\.level/],
    ["signal = 1", /\[signal\.grpc\] must be a table|must be a table/],
    ["[edge\n", /invalid TOML/],
    ["[edge]\nallowed_origins = [\"https://*example.com\"]", /edge\.allowed_origins: "https:\/\/\*example\.com" is not/],
    ["[edge]\nallowed_origins = [\"https://app.test/\"]", /edge\.allowed_origins/],
  ];
  for (const [text, re] of bad) assert.throws(() => resolveConfig(parseConfigText(text), {}), re, text);
  assert.throws(() => resolveConfig({}, { PORT: "eighty" }), /PORT/);
  assert.throws(() => resolveConfig({}, { EDGE_SIGNAL_LOG_LEVEL: "loud" }), /EDGE_SIGNAL_LOG_LEVEL/);
  assert.throws(() => resolveConfig({}, { EDGE_SIGNAL_ALLOWED_ORIGINS: "https://a.test,null" }), /edge\.allowed_origins: "null"/);
});

test("logs are JSON lines with a level; credentials are redacted", () => {
  const lines: string[] = [];
  const log = createLogger("info", (l) => lines.push(l)).with({ call: "c1" });
  log.debug("hidden");
  log.info("call ended", { authorization: "Bearer abc.def.ghi", token: "t", md: new Map([["cookie", ["s=1"]], ["x-room", ["r"]]]) });
  log.error("boom", { error: new Error("bad thing") });
  assert.equal(lines.length, 2);
  const a = JSON.parse(lines[0]!);
  assert.equal(a.level, "info");
  assert.equal(a.msg, "call ended");
  assert.equal(a.call, "c1");
  assert.equal(a.authorization, "[redacted]");
  assert.equal(a.token, "[redacted]");
  assert.deepEqual(a.md, { cookie: "[redacted]", "x-room": ["r"] });
  assert.ok(!lines[0]!.includes("abc.def.ghi"));
  assert.equal(JSON.parse(lines[1]!).error, "bad thing");
});
