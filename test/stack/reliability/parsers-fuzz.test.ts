/**
 * Bad input to the parsers that never see a socket, with fast-check (≥ 10,000 cases each):
 * - config: the whole pipeline the CLI runs (`parseConfigText` → `resolveConfig` → `parseAuthConfig`,
 *   `parseBalancerConfig`, `createRouteTable`) on random ION/edge-shaped configs serialized as TOML,
 *   on byte-mutated TOML, and on random environment overrides → a valid Config (every number an
 *   integer in range, every list a list of strings) or a plain `Error` with a message — never a
 *   TypeError, RangeError or anything else;
 * - Connect JSON requests (the only JSON the gateway parses from clients): random, mutated and
 *   schema-shaped JSON for demo.v1.EchoRequest → binary that decodes, or INVALID_ARGUMENT; binary
 *   responses → JSON that parses, or INTERNAL;
 * - `grpc-timeout` and `Connect-Timeout-Ms` values → a non-negative integer or INVALID_ARGUMENT;
 * - Connect end-stream and error JSON: the gateway only writes them (it never parses one), so the
 *   property is that whatever a backend puts in a status and trailers, connect-es parses what the
 *   gateway wrote back to the same code, message and valid metadata.
 * (test/protocol/{envelope,base64,header-block}-fuzz.test.ts and
 * test/protocol-grpc-websockets/session-fuzz.test.ts cover envelopes, base64, header blocks and the WebSocket session;
 * test/auth/authenticator-fuzz.test.ts the authorization value; test/discovery/gob/decode-fuzz.test.ts gob.)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { endStreamFromJson, errorFromJsonBytes } from "@connectrpc/connect/protocol-connect";
import fc from "fast-check";
import { stringify } from "smol-toml";
import { parseAuthConfig } from "../../../src/auth/index.js";
import { parseBalancerConfig } from "../../../src/balancer/index.js";
import { parseConfigText, resolveConfig, type Config } from "../../../src/config/index.js";
import { createRouteTable } from "../../../src/director/index.js";
import { schemaRegistry } from "../../../src/gateway.js";
import { EchoRequestSchema, EchoResponseSchema } from "../../../src/gen/demo/v1/echo_pb.js";
import { createJsonCodecLookup } from "../../../src/protocol/json-codec.js";
import { parseConnectTimeout, parseGrpcTimeout } from "../../../src/protocol/parse-timeout.js";
import { encodeEndStream, encodeErrorJson } from "../../../src/protocol-connect/end-stream.js";
import { isProtocolHeader, isValidMetadataKey, isValidMetadataValue } from "../../../src/protocol/metadata-headers.js";
import { scaled, summary } from "../../helpers/soak.js";

const N = scaled(10_000);
const counts: Record<string, number> = {};
const outcomes: Record<string, number> = {};
const count = (k: string, outcome: string) => {
  counts[k] = (counts[k] ?? 0) + 1;
  outcomes[`${k}:${outcome}`] = (outcomes[`${k}:${outcome}`] ?? 0) + 1;
};

// ---------------------------------------------------------------------------------------------
// Config.

/** Runs what `edge-signal serve` runs on a config file; returns the Config or the error. */
function pipeline(text: string, env: Record<string, string>): Config {
  const cfg = resolveConfig(parseConfigText(text), env);
  parseAuthConfig(cfg.auth);
  parseBalancerConfig(cfg.balancer);
  createRouteTable(cfg.services, cfg.routes);
  return cfg;
}

const integerFields = ["port", "defaultTimeoutMs", "maxTimeoutMs", "maxMessageBytes", "maxMetadataBytes", "maxCallsPerIp", "maxCalls", "nodeExpirySeconds", "drainTimeoutMs"] as const;

function checkConfig(cfg: Config): void {
  for (const f of integerFields) assert.ok(Number.isSafeInteger(cfg[f]) && cfg[f] >= 0, `${f} is a non-negative integer (${cfg[f]})`);
  assert.ok(cfg.port <= 65535, `port ${cfg.port}`);
  assert.ok(cfg.maxMessageBytes >= 1 && cfg.maxMetadataBytes >= 256, "limits are positive");
  for (const f of ["services", "allowedOrigins", "descriptorSets"] as const) assert.ok(Array.isArray(cfg[f]) && cfg[f].every((x) => typeof x === "string"), f);
  for (const f of ["dc", "natsUrl", "host", "nid"] as const) assert.equal(typeof cfg[f], "string", f);
  for (const [k, v] of Object.entries(cfg.routes)) assert.ok(typeof k === "string" && typeof v === "string", "routes");
}

function checkThrown(e: unknown, what: string): string {
  assert.ok(e instanceof Error, `${what}: threw an Error (${String(e)})`);
  assert.equal(e.constructor, Error, `${what}: a plain Error, not ${e.constructor.name}: ${e.message}`);
  assert.ok(e.message.length > 0 && !/undefined|\[object Object\]/.test(e.message), `${what}: a message that says something (${e.message})`);
  return e.message.split(":")[0]!;
}

/** Values of every TOML type, with a bias to the edge cases. */
const tomlValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  scalar: fc.oneof(
    fc.integer({ min: -5, max: 70_000 }),
    fc.constantFrom(0, 1, -1, 65535, 65536, 2 ** 31, 2 ** 53 + 2, 0.5, 5551.5, 1e300, -0),
    fc.double({ noNaN: false }),
    fc.boolean(),
    fc.string({ maxLength: 20 }),
    fc.constantFrom("", "5551", "0x10", "1e3", " 1", "true", "HMAC", "PEM", "sticky", "p2c", "*", "https://*.example.com", "nats://x:4222", "debug", "-----BEGIN PUBLIC KEY-----\nxx\n-----END PUBLIC KEY-----"),
  ),
  value: fc.oneof({ weight: 6, arbitrary: tie("scalar") }, { weight: 1, arbitrary: fc.array(tie("scalar"), { maxLength: 3 }) }, { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 8 }), tie("scalar"), { maxKeys: 3 }) }),
})).value;

const key = <K extends string>(...ks: K[]) => fc.constantFrom(...ks);
const table = (keys: fc.Arbitrary<string>) => fc.dictionary(keys, tomlValue, { maxKeys: 5 });
const configObject = fc.record(
  {
    global: table(key("dc")),
    nats: table(key("url")),
    signal: fc.record({
      grpc: table(key("host", "port")),
      jwt: table(key("enabled", "key_type", "key", "keys", "jwks_url", "issuer", "audience", "clock_skew_s", "require_exp", "max_token_bytes", "allow_query_token", "forward_claims", "rules", "cache_size", "cache_ttl_s", "bogus")),
      svc: table(key("services")),
    }, { requiredKeys: [] }),
    edge: fc.record({
      nid: tomlValue,
      allowed_origins: tomlValue,
      default_timeout_ms: tomlValue,
      max_timeout_ms: tomlValue,
      max_message_bytes: tomlValue,
      max_metadata_bytes: tomlValue,
      max_calls: tomlValue,
      max_calls_per_ip: tomlValue,
      forward_authorization: tomlValue,
      descriptor_sets: tomlValue,
      drain_timeout_ms: tomlValue,
      routes: fc.dictionary(fc.string({ maxLength: 10 }), tomlValue, { maxKeys: 3 }),
      discovery: table(key("registry", "micro", "node_expiry_s")),
      balancer: table(key("default", "pin_header", "services", "ejection", "placement", "load_weight", "typo")),
      auth: table(key("enabled", "rules", "forward_claims")),
    }, { requiredKeys: [] }),
    log: table(key("level")),
  },
  { requiredKeys: [] },
);
const configText = configObject.map((o) => {
  try {
    return stringify(o);
  } catch {
    return ""; // a value TOML cannot write (NaN keys, …): the empty config
  }
});
const textMutation = fc.array(fc.record({ op: fc.constantFrom("ins", "del", "dup", "trunc", "swap"), at: fc.nat(), s: fc.constantFrom("=", "[", "]", "\"", "'", "\n", "#", ".", ",", "{", "}", "\\u", "\\", "0x", "inf", "nan", "1979-05-27", "[[edge]]", "é", "\0") }), { minLength: 1, maxLength: 4 });
function mutateText(t: string, ms: { op: string; at: number; s: string }[]): string {
  for (const m of ms) {
    const i = t.length ? m.at % t.length : 0;
    if (m.op === "ins") t = t.slice(0, i) + m.s + t.slice(i);
    else if (m.op === "del") t = t.slice(0, i) + t.slice(i + 1 + (m.at % 5));
    else if (m.op === "dup") t = t + "\n" + t.slice(i);
    else if (m.op === "trunc") t = t.slice(0, i);
    else if (m.op === "swap") t = t.slice(i) + t.slice(0, i);
  }
  return t;
}
const envValue = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom("", "0", "65536", "5551", "1.5", "-1", "true", "1", "yes", "a,,b, ,c", "debug", "trace", "nats://a:1,ws://b:2"));
const env = fc.dictionary(fc.constantFrom("EDGE_SIGNAL_NATS_URL", "NATS_URL", "PORT", "HOST", "EDGE_SIGNAL_NID", "EDGE_SIGNAL_DC", "EDGE_SIGNAL_SERVICES", "EDGE_SIGNAL_ALLOWED_ORIGINS", "EDGE_SIGNAL_JWT_ENABLED", "EDGE_SIGNAL_JWT_KEY", "EDGE_SIGNAL_JWKS_URL", "EDGE_SIGNAL_LOG_LEVEL"), envValue, { maxKeys: 4 });

function runConfigCase(kind: string, text: string, e: Record<string, string>): void {
  let cfg: Config;
  try {
    cfg = pipeline(text, e);
  } catch (err) {
    count(kind, `error ${checkThrown(err, `${kind} ${JSON.stringify(text.slice(0, 200))} env ${JSON.stringify(e)}`)}`);
    return;
  }
  checkConfig(cfg);
  count(kind, "valid");
}

test(`config: ${N} random ION/edge-shaped configs → a valid Config or a plain Error with a message`, () => {
  fc.assert(fc.property(configText, (t) => runConfigCase("config-structured", t, {})), { numRuns: N });
});

test(`config: ${N} byte-mutated TOML files → a valid Config or a plain Error with a message`, () => {
  fc.assert(fc.property(configText, textMutation, (t, ms) => runConfigCase("config-mutated", mutateText(t, ms), {})), { numRuns: N });
});

test(`config: ${N} random environment overrides (over random configs) → a valid Config or a plain Error`, () => {
  fc.assert(fc.property(configText, env, (t, e) => runConfigCase("config-env", t, e)), { numRuns: N });
});

// ---------------------------------------------------------------------------------------------
// Connect JSON.

const codec = createJsonCodecLookup(schemaRegistry())("/demo.v1.EchoService/Echo")!;

test(`Connect JSON requests: ${N} random, mutated and schema-shaped bodies → EchoRequest bytes or INVALID_ARGUMENT`, () => {
  const enc = new TextEncoder();
  const shaped = fc.record(
    { message: fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.array(fc.string())), repeat: fc.oneof(fc.integer(), fc.double(), fc.string(), fc.constantFrom("1e2", "0x10", 2 ** 40, -1, "NaN")), extra: fc.anything() },
    { requiredKeys: [] },
  );
  const body = fc.oneof(
    shaped.map((o) => enc.encode(JSON.stringify(o) ?? "")),
    fc.json().map((s) => enc.encode(s)),
    fc.tuple(fc.json(), fc.nat(), fc.constantFrom("{", "}", "\"", "\\", "\\ud800", ",", ":", "\u0000", "é")).map(([s, at, ins]) => enc.encode(s.slice(0, at % (s.length + 1)) + ins + s.slice(at % (s.length + 1)))),
    fc.uint8Array({ maxLength: 64 }),
    fc.constantFrom(enc.encode(`{"message":"${"\\ud800"}"}`), enc.encode(`{"__proto__":{"x":1}}`), enc.encode("[]".repeat(1000)), enc.encode("[".repeat(5000) + "]".repeat(5000))),
  );
  fc.assert(
    fc.property(body, (b) => {
      let bin: Uint8Array;
      try {
        bin = codec.requestToBinary(b);
      } catch (e) {
        assert.ok(e instanceof ConnectError, `a ConnectError (${String(e)})`);
        assert.equal(e.code, Code.InvalidArgument);
        count("connect-json-request", "invalid_argument");
        return;
      }
      fromBinary(EchoRequestSchema, bin); // decodes
      count("connect-json-request", "ok");
    }),
    { numRuns: N },
  );
});

test(`Connect JSON responses: ${N} random and valid binary responses → JSON that parses, or INTERNAL`, () => {
  const bin = fc.oneof(
    fc.record({ message: fc.string(), node: fc.string({ maxLength: 10 }) }).map((m) => toBinary(EchoResponseSchema, create(EchoResponseSchema, m))),
    fc.uint8Array({ maxLength: 64 }),
  );
  fc.assert(
    fc.property(bin, (b) => {
      let json: Uint8Array;
      try {
        json = codec.responseToJson(b);
      } catch (e) {
        assert.ok(e instanceof ConnectError && e.code === Code.Internal, `INTERNAL (${String(e)})`);
        count("connect-json-response", "internal");
        return;
      }
      JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(json));
      count("connect-json-response", "ok");
    }),
    { numRuns: N },
  );
});

// ---------------------------------------------------------------------------------------------
// Timeouts.

test(`grpc-timeout and Connect-Timeout-Ms: ${N} values each → a non-negative integer or INVALID_ARGUMENT`, () => {
  const v = fc.oneof(fc.string({ maxLength: 14 }), fc.tuple(fc.stringMatching(/^\d{0,12}$/), fc.constantFrom("H", "M", "S", "m", "u", "n", "", "h", "s", " ")).map(([d, u]) => d + u));
  fc.assert(
    fc.property(v, v, (g, c) => {
      for (const [name, f, s] of [["grpc-timeout", parseGrpcTimeout, g], ["connect-timeout-ms", parseConnectTimeout, c]] as const) {
        try {
          const ms = f(s);
          assert.ok(ms !== undefined && Number.isSafeInteger(ms) && ms >= 0, `${name} ${JSON.stringify(s)} → ${ms}`);
          count(name, "ok");
        } catch (e) {
          assert.ok(e instanceof ConnectError && e.code === Code.InvalidArgument, `${name} ${JSON.stringify(s)}: ${String(e)}`);
          count(name, "invalid_argument");
        }
      }
    }),
    { numRuns: N },
  );
});

// ---------------------------------------------------------------------------------------------
// Connect end-stream and error JSON (written by the gateway, read by connect-es).

test(`Connect end-stream and error JSON: ${N} hostile statuses and trailers → connect-es reads back the same code, message and valid metadata`, () => {
  const mdKey = fc.oneof(fc.constantFrom("x-a", "grpc-status", "content-type", "__proto__", "constructor", "x-b-bin", "trailer-x", "X-Upper", "", "a b"), fc.string({ maxLength: 8 }));
  const mdVal = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom("a\r\nb", "\0", "é", "\"}", "\\"), fc.string({ unit: "binary", maxLength: 6 }));
  const trailers = fc.option(fc.array(fc.tuple(mdKey, fc.array(mdVal, { maxLength: 3 })), { maxLength: 4 }).map((e) => new Map(e)), { nil: undefined });
  const error = fc.option(
    fc.record({ code: fc.integer({ min: 1, max: 16 }), message: fc.oneof(fc.string(), fc.string({ unit: "binary" }), fc.constantFrom("\"}\n{\"error\":1", "\u2028\u2029", "\ud800", "%20")), md: fc.array(fc.tuple(fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/), mdVal), { maxLength: 3 }) }),
    { nil: undefined },
  );
  fc.assert(
    fc.property(error, trailers, (err, tr) => {
      const ce = err ? new ConnectError(err.message, err.code as Code, Object.fromEntries(err.md.filter(([, v]) => /^[\t\x20-\x7e\x80-\xff]*$/.test(v)))) : undefined;
      const bytes = encodeEndStream(ce, tr);
      const parsed = endStreamFromJson(bytes);
      if (ce) {
        assert.equal(parsed.error?.code, ce.code, "code");
        assert.equal(parsed.error?.rawMessage, ce.rawMessage, "message");
        const ej = errorFromJsonBytes(encodeErrorJson(ce), undefined, new ConnectError("x", Code.Unknown));
        assert.equal(ej.code, ce.code);
        assert.equal(ej.rawMessage, ce.rawMessage);
      } else assert.equal(parsed.error, undefined);
      parsed.metadata.forEach((v, k) => {
        assert.ok(isValidMetadataKey(k) && !isProtocolHeader(k), `metadata key ${JSON.stringify(k)}`);
        for (const part of v.split(", ")) assert.ok(isValidMetadataValue(part), `metadata value ${JSON.stringify(v)}`);
      });
      count("connect-end-stream", ce ? `error` : "ok");
    }),
    { numRuns: N },
  );
  summary("parsers-fuzz", { ...counts, total: Object.values(counts).reduce((a, b) => a + b, 0) });
  console.log("[reliability] parsers-fuzz outcomes: " + Object.entries(outcomes).sort((a, b) => b[1] - a[1]).slice(0, 30).map(([k, v]) => `${k}×${v}`).join(", "));
});
