// The config schema, key by key: every key edge-signal reads (configKeys(), the auth fields, the
// balancer's keys) misspelled is refused with its path and the key that was meant; every leaf given a
// value of the wrong type is refused naming its path; ranges, env overrides, all problems at once,
// ION's keys accepted, and `createGateway` refusing a bad section before it touches NATS.
import assert from "node:assert/strict";
import { test } from "node:test";
import { AUTH_FIELDS } from "../../src/auth/auth-config.js";
import { configKeys, didYouMean, envOverrides, parseConfigText, redactConfig, resolveConfig, unknownEnvNotes } from "../../src/config/index.js";
import { createGateway } from "../../src/gateway.js";
import { natsServer, tcp } from "../helpers/nats.js";

type Obj = Record<string, unknown>;

/** `{a: {b: {c: v}}}` for path "a.b.c". */
function at(path: string, v: unknown): Obj {
  return path.split(".").reduceRight<unknown>((acc, k) => ({ [k]: acc }), v) as Obj;
}

/** The error messages resolveConfig throws for `raw` (asserting it throws). */
function problems(raw: Obj, env: Record<string, string> = {}): string[] {
  try {
    resolveConfig(raw, env);
  } catch (e) {
    assert.equal((e as Error).constructor, Error, "a plain Error");
    return (e as { errors: string[] }).errors;
  }
  assert.fail(`accepted: ${JSON.stringify(raw)}`);
}

/** A typo of `key`: its second character dropped (`max_calls` → `mx_calls`). */
const typo = (key: string) => key.slice(0, 1) + key.slice(2);

/** Every leaf key resolveConfig reads itself, as "table.key" (the tables' own keys excluded). */
function leafPaths(): string[] {
  const known = configKeys();
  const out: string[] = [];
  for (const [table, keys] of known) {
    for (const k of keys) {
      const p = table ? `${table}.${k}` : k;
      if (!known.has(p)) out.push(p);
    }
  }
  return out;
}

test("the schema holds every section and the keys other tests rely on", () => {
  const leaves = leafPaths();
  for (const p of ["global.dc", "nats.url", "signal.grpc.host", "signal.grpc.port", "signal.svc.services", "log.level", "edge.max_message_bytes", "edge.allowed_origins", "edge.discovery.registry", "edge.drain_timeout_ms"]) {
    assert.ok(leaves.includes(p), p);
  }
  assert.ok(leaves.length >= 25, `${leaves.length} keys`);
});

test("each key of the top-level schema, misspelled: refused with its path and the key meant", () => {
  const leaves = leafPaths();
  for (const p of leaves) {
    const i = p.lastIndexOf(".");
    const table = i < 0 ? "" : p.slice(0, i);
    const key = p.slice(i + 1);
    if (key.length < 4) continue; // `dc`, `url`: too short for a typo to be unambiguous
    const bad = table ? `${table}.${typo(key)}` : typo(key);
    const errs = problems(at(bad, 1));
    assert.deepEqual(errs, [`config: ${bad}: unknown key (did you mean "${key}"?)`], p);
  }
});

test("each section name misspelled is refused as an unknown table, with the table meant", () => {
  for (const [bad, meant] of [["edge.balancr", "balancer"], ["edge.discovry", "discovery"], ["edge.rotes", "routes"], ["signal.grcp", "grpc"], ["sigal", "signal"], ["edg", "edge"]] as const) {
    const errs = problems(at(`${bad}.x`, 1));
    assert.deepEqual(errs, [`config: ${bad}: unknown table (did you mean "${meant}"?)`], bad);
  }
  assert.deepEqual(problems({ zzz: { a: 1 } }), ["config: zzz: unknown table"], "no suggestion when nothing is close");
});

test("each [signal.jwt] / [edge.auth] field misspelled: refused with the table's path", () => {
  for (const f of AUTH_FIELDS) {
    if (f.length < 4) continue;
    for (const table of ["signal.jwt", "edge.auth"]) {
      const errs = problems(at(`${table}.${typo(f)}`, 1));
      assert.equal(errs.length, 1, `${table}.${f}: ${errs.join(" | ")}`);
      assert.match(errs[0]!, new RegExp(`^config: ${table.replace(".", "\\.")}\\.${typo(f)}: unknown key \\(did you mean "${f}"\\?\\)$`));
    }
  }
  // Inside keys[] and rules[] the auth parser reports it, with a suggestion too.
  assert.match(problems(at("signal.jwt", { enabled: true, keys: [{ hmac: "s", kdi: "k1" }] })).join(), /signal\.jwt\.keys\[0\]: unknown field "kdi" \(did you mean "kid"\?\)/);
  assert.match(problems(at("edge.auth", { rules: [{ methd: "*", public: true }] })).join(), /rules\[0\]: unknown field "methd" \(did you mean "method"\?\)/);
});

test("each [edge.balancer] key misspelled: refused with its path and the key meant", () => {
  const cases: [Obj, RegExp][] = [
    [{ defualt: "p2c" }, /^config: edge\.balancer: unknown key "defualt" \(did you mean "default"\?\)$/],
    [{ pin_heder: "x" }, /^config: edge\.balancer: unknown key "pin_heder" \(did you mean "pin_header"\?\)$/],
    [{ load_wieght: 1 }, /^config: edge\.balancer: unknown key "load_wieght" \(did you mean "load_weight"\?\)$/],
    [{ servics: {} }, /unknown key "servics" \(did you mean "services"\?\)/],
    [{ ejection: { bse_ms: 1 } }, /^config: edge\.balancer\.ejection: unknown key "bse_ms" \(did you mean "base_ms"\?\)$/],
    [{ placement: { buckt: "b" } }, /^config: edge\.balancer\.placement: unknown key "buckt" \(did you mean "bucket"\?\)$/],
    [{ placement: { replica: 3 } }, /placement: unknown key "replica" \(did you mean "replicas"\?\)/],
    [{ services: { rtc: { stratgy: "sticky" } } }, /edge\.balancer\.services\.rtc: unknown key "stratgy" \(did you mean "strategy"\?\)/],
  ];
  for (const [bal, re] of cases) {
    const errs = problems(at("edge.balancer", bal));
    assert.equal(errs.length, 1, errs.join(" | "));
    assert.match(errs[0]!, re);
  }
});

test("each leaf key given a value of the wrong type is refused, naming its path", () => {
  for (const p of leafPaths()) {
    const errs = problems(at(p, [1]));
    assert.ok(errs.some((e) => e.includes(p)), `${p}: ${errs.join(" | ")}`);
  }
});

test("ranges and values, key by key", () => {
  const cases: [string, unknown, RegExp][] = [
    ["signal.grpc.port", 65536, /signal\.grpc\.port must be a number between 0 and 65535/],
    ["signal.grpc.port", 5551.5, /signal\.grpc\.port must be a whole number/],
    ["edge.max_message_bytes", 0, /edge\.max_message_bytes must be a number between 1/],
    ["edge.max_metadata_bytes", 100, /edge\.max_metadata_bytes must be a number between 256/],
    ["edge.max_buffered_bytes", 10, /edge\.max_buffered_bytes/],
    ["edge.idle_timeout_ms", -1, /edge\.idle_timeout_ms/],
    ["edge.discovery.node_expiry_s", 0, /edge\.discovery\.node_expiry_s must be a number between 1 and 3600/],
    ["log.level", "loud", /log\.level must be debug, info, warn or error/],
    ["edge.allowed_origins", ["https://*x.test"], /edge\.allowed_origins/],
    ["signal.jwt.clock_skew_s", -1, /signal\.jwt\.clock_skew_s: must be at least 0/],
    ["edge.auth.max_token_bytes", 10, /max_token_bytes: must be at least 64/],
    ["edge.balancer.default", "sticky", /edge\.balancer\.default: sticky cannot be the default/],
    ["edge.balancer.placement.replicas", 2, /edge\.balancer\.placement\.replicas: must be 1, 3 or 5/],
  ];
  for (const [p, v, re] of cases) assert.match(problems(at(p, v)).join("\n"), re, `${p} = ${JSON.stringify(v)}`);
  // enabled without a key: an auth problem found before anything starts.
  assert.match(problems(at("signal.jwt.enabled", true)).join(), /enabled = true but no key is configured/);
});

test("environment overrides are checked too, and can complete the file", () => {
  assert.match(problems({}, { PORT: "eighty" }).join(), /env: PORT must be a port number/);
  assert.match(problems({}, { EDGE_SIGNAL_LOG_LEVEL: "loud" }).join(), /EDGE_SIGNAL_LOG_LEVEL/);
  assert.match(problems({}, { EDGE_SIGNAL_JWT_ENABLED: "yes" }).join(), /EDGE_SIGNAL_JWT_ENABLED must be true, false, 1 or 0/);
  assert.match(problems({}, { EDGE_SIGNAL_JWT_ENABLED: "true" }).join(), /no key is configured/, "auth on from env, no key anywhere");
  const cfg = resolveConfig(at("signal.jwt.enabled", true), { EDGE_SIGNAL_JWT_KEY: "from-env" });
  assert.equal(cfg.auth.key, "from-env");
  assert.equal(resolveConfig({}, { EDGE_SIGNAL_JWT_ENABLED: "1", EDGE_SIGNAL_JWT_KEY: "k" }).auth.enabled, true);
});

test("EDGE_SIGNAL_* variables nothing reads are noted (for `edge-signal check`), with the name meant", () => {
  const notes = unknownEnvNotes({ EDGE_SIGNAL_JWT_KYE: "x", EDGE_SIGNAL_LOGLEVEL: "debug", EDGE_SIGNAL_FOO: "1", EDGE_SIGNAL_DC: "dc1", EDGE_SIGNAL_SKIP_BROWSER: "1", PATH: "/bin" }, Object.keys(envOverrides));
  assert.deepEqual(notes, [
    'environment variable EDGE_SIGNAL_JWT_KYE is not read by edge-signal (did you mean "EDGE_SIGNAL_JWT_KEY"?)',
    'environment variable EDGE_SIGNAL_LOGLEVEL is not read by edge-signal (did you mean "EDGE_SIGNAL_LOG_LEVEL"?)',
    "environment variable EDGE_SIGNAL_FOO is not read by edge-signal",
  ]);
});

test("every problem of a file is listed at once, one per line", () => {
  const text = '[edge]\nmax_mesage_bytes = 10\nmax_calls = -1\n[edge.balancer]\ndefualt = "p2c"\n[edge.auth]\naudiance = "x"\n';
  let msg = "";
  assert.throws(() => resolveConfig(parseConfigText(text), {}), (e: Error) => ((msg = e.message), true));
  assert.deepEqual(msg.split("\n"), [
    'config: edge.max_mesage_bytes: unknown key (did you mean "max_message_bytes"?)',
    'config: edge.auth.audiance: unknown key (did you mean "audience"?)',
    "config: edge.max_calls must be a number between 0 and 9007199254740991",
    'config: edge.balancer: unknown key "defualt" (did you mean "default"?)',
  ]);
});

test("ION's own keys that edge-signal does not use are accepted", () => {
  const cfg = resolveConfig(parseConfigText('[global]\ndc = "dc1"\npprof = ":6060"\n[signal.grpc]\nport = "5551"\nallow_all_origins = true\ncert = ""\nkey = ""\n[avp]\nelements = []\n[node]\nnid = "x"\n'), {});
  assert.equal(cfg.port, 5551);
});

test("didYouMean: close keys only", () => {
  assert.equal(didYouMean("max_mesage_bytes", ["max_message_bytes", "max_calls"]), ' (did you mean "max_message_bytes"?)');
  assert.equal(didYouMean("Max-Calls", ["max_calls"]), ' (did you mean "max_calls"?)');
  assert.equal(didYouMean("colour", ["registry", "micro"]), "");
});

test("redactConfig hides HMAC secrets and NATS passwords, keeps public keys", () => {
  const pem = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----";
  const shown = JSON.stringify(
    redactConfig({ ...resolveConfig({}), natsUrl: "nats://u:pw@h:4222,nats://v:pw2@g:4222", metricsToken: "m3trics", auth: { key: "s3cret", keys: [{ hmac: "h1" }, { jwk: { kty: "oct", k: "a2V5" } }, { pem }] } }),
  );
  for (const secret of ["s3cret", "h1", "a2V5", ":pw@", ":pw2@", "m3trics"]) assert.ok(!shown.includes(secret), secret);
  assert.ok(shown.includes("MCowBQYDK2VwAyEA"), "a public key stays");
  assert.ok(shown.includes("nats://u:[redacted]@h:4222"));
});

test("createGateway refuses a bad auth or balancer section, or a bad descriptor set, before it touches NATS", async () => {
  const nats = await natsServer();
  const nc = await tcp(nats, "config-check");
  try {
    const good = resolveConfig({});
    const cases: [Parameters<typeof createGateway>[0], RegExp][] = [
      [{ config: { ...good, auth: { enabled: true } }, nc }, /no key is configured/],
      [{ config: { ...good, balancer: { defualt: "p2c" } }, nc }, /unknown key "defualt"/],
      [{ config: good, nc, descriptorSets: [new Uint8Array([0xff, 0xff, 0xff])] }, /./],
    ];
    for (const [opts, re] of cases) {
      await assert.rejects(createGateway(opts), re);
      await nc.flush();
      const subs = (await nats.monitor("connz?subs=1")).connections.find((c: { name?: string }) => c.name === "config-check")?.subscriptions ?? 0;
      assert.equal(subs, 0, "no subscription was made");
    }
  } finally {
    await nc.close();
    await nats.stop();
  }
});
