/**
 * Bad input over HTTP and WebSockets, through the RUNNING gateway (fast-check; each case is a real
 * request, so the counts are smaller than the in-process fuzzers'): random and mutated bodies,
 * content types, timeouts, encodings and query strings for gRPC-Web (binary and text), Connect
 * (unary proto and JSON, streaming, GET), and random grpc-websockets frame sequences. Every request is
 * answered with a proper status — a gRPC status in the headers or a trailer frame, a Connect error
 * JSON or end-stream, a WebSocket trailer frame or close — and the gateway stays healthy and leak-free.
 * (test/protocol/*-fuzz.test.ts fuzz the parsers in-process; this is the whole path.)
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { EchoRequestSchema } from "../../../src/gen/demo/v1/echo_pb.js";
import { startStack, type Stack } from "../../helpers/gateway.js";
import { WsCall } from "../../helpers/grpc-websockets-client.js";
import { assertNoLeaks, baseline, type Baseline } from "./leak-check.js";
import { budget, scaled, summary } from "../../helpers/soak.js";
import { grpcWebOutcome } from "./wire-call.js";

let stack: Stack;
let base: Baseline;

before(async () => {
  // A default deadline bounds whatever a random message asks the demo node to do.
  stack = await startStack({ nodes: 1, config: { edge: { default_timeout_ms: 5000, max_message_bytes: 64 * 1024 } } });
  base = await baseline(stack);
});
after(async () => {
  await stack?.stop();
});

const counts: Record<string, number> = {};
const statusSeen = new Map<string, number>();
const seen = (kind: string, outcome: string) => {
  counts[kind] = (counts[kind] ?? 0) + 1;
  statusSeen.set(outcome, (statusSeen.get(outcome) ?? 0) + 1);
};
const connectCodes = new Set(["canceled", "unknown", "invalid_argument", "deadline_exceeded", "not_found", "already_exists", "permission_denied", "resource_exhausted", "failed_precondition", "aborted", "out_of_range", "unimplemented", "internal", "unavailable", "data_loss", "unauthenticated"]);

// ---------------------------------------------------------------------------------------------
// Inputs.

const validEcho = fc.record({ message: fc.string({ maxLength: 30 }).filter((s) => !s.startsWith("sleep:")), repeat: fc.integer({ min: 0, max: 3 }) }).map((m) => toBinary(EchoRequestSchema, create(EchoRequestSchema, m)));
const mutation = fc.record({ op: fc.constantFrom("flip", "del", "ins", "trunc"), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) });
function mutate(b: Uint8Array, ms: { op: string; at: number; byte: number }[]): Uint8Array {
  let out = Uint8Array.from(b);
  for (const m of ms) {
    const i = out.length ? m.at % out.length : 0;
    if (m.op === "flip" && out.length) out[i] = out[i]! ^ (1 << (m.byte & 7));
    else if (m.op === "del") out = Uint8Array.from([...out.subarray(0, i), ...out.subarray(i + 1)]);
    else if (m.op === "ins") out = Uint8Array.from([...out.subarray(0, i), m.byte, ...out.subarray(i)]);
    else if (m.op === "trunc") out = out.subarray(0, i);
  }
  return out;
}
const env = (data: Uint8Array, flags = 0) => {
  const f = new Uint8Array(5 + data.length);
  f[0] = flags;
  new DataView(f.buffer).setUint32(1, data.length);
  f.set(data, 5);
  return f;
};
/** Envelope-framed bodies: valid, mutated, random, with odd flags or lengths. */
const framedBody = fc.oneof(
  validEcho.map((m) => env(m)),
  fc.tuple(validEcho, fc.array(mutation, { minLength: 1, maxLength: 3 })).map(([m, ms]) => mutate(env(m), ms)),
  fc.tuple(validEcho, fc.integer({ min: 0, max: 255 })).map(([m, flags]) => env(m, flags)),
  fc.tuple(validEcho, validEcho).map(([a, b]) => Uint8Array.from([...env(a), ...env(b)])),
  fc.uint8Array({ maxLength: 200 }),
  fc.constant(Uint8Array.from([0, 0xff, 0xff, 0xff, 0xff])), // announces 4 GiB
);
const path = fc.constantFrom("/demo.v1.EchoService/Echo", "/demo.v1.EchoService/EchoStream", "/demo.v1.EchoService/EchoBidi", "/demo.v1.EchoService/EchoClientStream", "/demo.v1.EchoService/Nope");
const tokenChars = "abcdefghijklmnopqrstuvwxyz0123456789-_";
const metaName = fc.string({ unit: fc.constantFrom(...tokenChars), minLength: 1, maxLength: 12 }).map((s) => "x-" + s);
const metaValue = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 40 });
const extraHeaders = fc.dictionary(metaName, metaValue, { maxKeys: 3 });
const timeoutValue = fc.oneof(fc.constant(undefined), fc.constantFrom("", "0", "-1", "1n", "99999999999H", "1S", "100m", "abc", "8H", "1.5S", " 100m", "9".repeat(20)));
const connectTimeout = fc.oneof(fc.constant(undefined), fc.constantFrom("", "0", "-5", "1e3", "100", "99999999999", "abc", "1".repeat(11), " 10"));

const hangGuard = () => AbortSignal.timeout(20_000);

// ---------------------------------------------------------------------------------------------
// Checks: what a "proper status" is, per protocol.

async function checkGrpcWeb(r: Response, text: boolean, kind: string): Promise<void> {
  const raw = text ? await r.text() : new Uint8Array(await r.arrayBuffer());
  if (r.status !== 200) {
    assert.ok([400, 404, 405, 415, 429, 431, 503].includes(r.status), `${kind}: HTTP ${r.status}`);
    seen(kind, `http ${r.status}`);
    return;
  }
  let body: Uint8Array;
  if (typeof raw === "string") {
    assert.match(raw, /^[A-Za-z0-9+/=]*$/, `${kind}: the text response is base64`);
    const parts = raw.match(/[^=]+=*/g) ?? [];
    body = new Uint8Array(Buffer.concat(parts.map((p) => Buffer.from(p, "base64"))));
  } else body = raw;
  const o = grpcWebOutcome(r.headers, body);
  assert.ok(o.code !== undefined && o.code >= 0 && o.code <= 16, `${kind}: grpc-status ${o.code}`);
  seen(kind, `grpc ${o.code}`);
}

async function checkConnectUnary(r: Response, kind: string): Promise<void> {
  const body = await r.text();
  const ct = r.headers.get("content-type") ?? "";
  if (r.status === 200) {
    assert.ok(ct.startsWith("application/proto") || ct.startsWith("application/json"), `${kind}: 200 with ${ct}`);
    seen(kind, "http 200");
    return;
  }
  if (r.status === 405 || r.status === 404) {
    seen(kind, `http ${r.status}`);
    return;
  }
  assert.ok(ct.startsWith("application/json"), `${kind}: error as JSON (HTTP ${r.status}, ${ct})`);
  const j = JSON.parse(body) as { code?: string; message?: string };
  assert.ok(j.code && connectCodes.has(j.code), `${kind}: Connect code ${j.code}`);
  seen(kind, `connect ${j.code}`);
}

async function checkConnectStream(r: Response, kind: string): Promise<void> {
  const body = new Uint8Array(await r.arrayBuffer());
  if (r.status !== 200) {
    const j = JSON.parse(new TextDecoder().decode(body)) as { code?: string };
    assert.ok(j.code && connectCodes.has(j.code), `${kind}: HTTP ${r.status} with Connect code ${j.code}`);
    seen(kind, `http ${r.status} ${j.code}`);
    return;
  }
  let end: Uint8Array | undefined;
  for (let i = 0; i + 5 <= body.length; ) {
    const len = new DataView(body.buffer, body.byteOffset + i + 1, 4).getUint32(0);
    assert.ok(i + 5 + len <= body.length, `${kind}: complete envelopes`);
    if (body[i]! & 0x02) end = body.subarray(i + 5, i + 5 + len);
    i += 5 + len;
  }
  assert.ok(end, `${kind}: an end-stream message`);
  const j = JSON.parse(new TextDecoder().decode(end)) as { error?: { code?: string } };
  assert.ok(!j.error || (j.error.code && connectCodes.has(j.error.code)), `${kind}: end-stream code ${j.error?.code}`);
  seen(kind, `end-stream ${j.error?.code ?? "ok"}`);
}

// ---------------------------------------------------------------------------------------------

test(`gRPC-Web binary: ${scaled(250)} random and mutated requests, each answered with a status`, { timeout: budget(120_000) }, async () => {
  await fc.assert(
    fc.asyncProperty(path, framedBody, fc.constantFrom("application/grpc-web", "application/grpc-web+proto", "application/grpc-web+json", "application/grpc-web+thrift", "application/grpc-web; charset=utf-8"), timeoutValue, extraHeaders, async (p, body, ct, t, extra) => {
      const headers: Record<string, string> = { "content-type": ct, "x-grpc-web": "1", ...extra };
      if (t !== undefined) headers["grpc-timeout"] = t;
      await checkGrpcWeb(await fetch(stack.url + p, { method: "POST", headers, body: body as Uint8Array<ArrayBuffer>, signal: hangGuard() }), false, "grpc-web");
    }),
    { numRuns: scaled(250) },
  );
});

test(`gRPC-Web text: ${scaled(150)} random base64 bodies (bad alphabet, misaligned padding), each answered with a status`, { timeout: budget(120_000) }, async () => {
  const b64ish = fc.oneof(
    framedBody.map((b) => Buffer.from(b).toString("base64")),
    fc.tuple(framedBody, fc.nat(), fc.constantFrom("=", "==", "!", " ", "\n", "-", "_", "====")).map(([b, at, ins]) => {
      const s = Buffer.from(b).toString("base64");
      const i = s.length ? at % s.length : 0;
      return s.slice(0, i) + ins + s.slice(i);
    }),
    fc.string({ maxLength: 80 }),
  );
  await fc.assert(
    fc.asyncProperty(path, b64ish, timeoutValue, async (p, body, t) => {
      const headers: Record<string, string> = { "content-type": "application/grpc-web-text", "x-grpc-web": "1" };
      if (t !== undefined) headers["grpc-timeout"] = t;
      await checkGrpcWeb(await fetch(stack.url + p, { method: "POST", headers, body, signal: hangGuard() }), true, "grpc-web-text");
    }),
    { numRuns: scaled(150) },
  );
});

test(`Connect unary (proto, JSON, gzip): ${scaled(250)} random requests, each answered with a status`, { timeout: budget(120_000) }, async () => {
  const jsonish = fc.oneof(
    fc.json().map((s) => new TextEncoder().encode(s)),
    fc.record({ message: fc.string({ maxLength: 20 }).filter((s) => !s.startsWith("sleep:")), repeat: fc.oneof(fc.integer(), fc.string(), fc.constant(null), fc.double()) }).map((o) => new TextEncoder().encode(JSON.stringify(o))),
    fc.tuple(fc.json(), fc.nat(), fc.string({ maxLength: 3 })).map(([s, at, ins]) => new TextEncoder().encode(s.slice(0, at % (s.length + 1)) + ins + s.slice(at % (s.length + 1)))),
    fc.uint8Array({ maxLength: 60 }),
  );
  const unary = fc.oneof(
    fc.record({ ct: fc.constant("application/proto"), body: fc.oneof(validEcho, fc.tuple(validEcho, fc.array(mutation, { minLength: 1, maxLength: 3 })).map(([m, ms]) => mutate(m, ms)), fc.uint8Array({ maxLength: 100 })) }),
    fc.record({ ct: fc.constantFrom("application/json", "application/json; charset=utf-8", "application/json; charset=latin1"), body: jsonish }),
    fc.record({ ct: fc.constantFrom("application/xml", "text/plain", "", "application/proto; x=y", "application/PROTO"), body: fc.uint8Array({ maxLength: 20 }) }),
  );
  await fc.assert(
    fc.asyncProperty(fc.constantFrom("/demo.v1.EchoService/Echo", "/demo.v1.EchoService/Nope", "/demo.v1.EchoService/EchoStream"), unary, connectTimeout, fc.constantFrom(undefined, "gzip", "br", "identity", "x"), extraHeaders, async (p, u, t, enc, extra) => {
      const headers: Record<string, string> = { ...extra };
      if (u.ct) headers["content-type"] = u.ct;
      if (t !== undefined) headers["connect-timeout-ms"] = t;
      if (enc !== undefined) headers["content-encoding"] = enc;
      await checkConnectUnary(await fetch(stack.url + p, { method: "POST", headers, body: u.body as Uint8Array<ArrayBuffer>, signal: hangGuard() }), "connect-unary");
    }),
    { numRuns: scaled(250) },
  );
});

test(`Connect streaming: ${scaled(200)} random envelope streams (odd flags, compressed without encoding, client end-stream), each answered`, { timeout: budget(120_000) }, async () => {
  await fc.assert(
    fc.asyncProperty(path, framedBody, fc.constantFrom("application/connect+proto", "application/connect+json", "application/connect"), fc.constantFrom(undefined, "gzip", "identity", "zstd"), connectTimeout, async (p, body, ct, enc, t) => {
      const headers: Record<string, string> = { "content-type": ct };
      if (enc !== undefined) headers["connect-content-encoding"] = enc;
      if (t !== undefined) headers["connect-timeout-ms"] = t;
      await checkConnectStream(await fetch(stack.url + p, { method: "POST", headers, body: body as Uint8Array<ArrayBuffer>, signal: hangGuard() }), "connect-stream");
    }),
    { numRuns: scaled(200) },
  );
});

test(`Connect GET: ${scaled(150)} random query strings, each answered with a status`, { timeout: budget(120_000) }, async () => {
  const param = (name: string, values: fc.Arbitrary<string>) => fc.option(values.map((v) => `${name}=${encodeURIComponent(v)}`), { nil: undefined });
  const query = fc
    .tuple(
      param("message", fc.oneof(fc.string({ maxLength: 40 }), validEcho.map((m) => Buffer.from(m).toString("base64url")), fc.json())),
      param("encoding", fc.constantFrom("proto", "json", "xml", "", "PROTO")),
      param("base64", fc.constantFrom("1", "0", "true", "")),
      param("compression", fc.constantFrom("gzip", "identity", "br", "")),
      param("connect", fc.constantFrom("v1", "v2", "")),
      fc.string({ maxLength: 10 }).map((junk) => encodeURIComponent(junk)),
    )
    .map((parts) => parts.filter((x) => x !== undefined && x !== "").join("&"));
  await fc.assert(
    fc.asyncProperty(fc.constantFrom("/demo.v1.EchoService/Echo", "/demo.v1.EchoService/Nope"), query, async (p, q) => {
      // A GET without `message` is not an RPC (it falls through to the static assets): 404 is proper there.
      await checkConnectUnary(await fetch(`${stack.url}${p}?${q}`, { signal: hangGuard() }), "connect-get");
    }),
    { numRuns: scaled(150) },
  );
});

test(`grpc-websockets: ${scaled(200)} random frame sequences through the gateway, each socket ends with a trailer frame or a close`, { timeout: budget(120_000) }, async () => {
  const headerBlock = fc.oneof(
    fc.constant("content-type: application/grpc-web+proto\r\nx-grpc-web: 1\r\n"),
    fc.string({ maxLength: 80 }),
    fc.constantFrom("grpc-timeout: 100m\r\n", "x-a\r\n", ": v\r\n", "x-a: \x00\r\n", "content-type: application/grpc-web-text\r\n", "x-a: b\nx-b: c"),
  );
  const frame = fc.oneof(
    validEcho.map((m) => Uint8Array.from([0, ...env(m)])),
    fc.tuple(validEcho, fc.array(mutation, { minLength: 1, maxLength: 2 })).map(([m, ms]) => mutate(Uint8Array.from([0, ...env(m)]), ms)),
    fc.constant(Uint8Array.of(1)),
    fc.uint8Array({ maxLength: 30 }),
    fc.string({ maxLength: 10 }),
  );
  await fc.assert(
    fc.asyncProperty(path, headerBlock, fc.array(frame, { maxLength: 5 }), fc.boolean(), async (p, header, frames, close) => {
      const c = new WsCall(stack.wsUrl + p);
      await c.opened;
      c.ws.send(Buffer.from(header, "latin1"));
      for (const f of frames) c.ws.send(typeof f === "string" ? f : Buffer.from(f));
      const guard = setTimeout(() => c.ws.terminate(), 20_000);
      if (close) setTimeout(() => c.close(), 50);
      else c.halfClose();
      const closed = await c.closed;
      clearTimeout(guard);
      const trailer = c.frames.filter((f) => f.kind === "header").at(-1);
      const s = trailer?.kind === "header" ? trailer.md.get("grpc-status") : undefined;
      if (s !== undefined) {
        assert.ok(Number(s) >= 0 && Number(s) <= 16, `grpc-status ${s}`);
        assert.equal(closed.code, 1000, "a trailer frame, then close 1000");
        seen("grpc-websockets", `grpc ${s}`);
      } else {
        // No status: only when we closed first (the client went away) — never a silent end.
        assert.ok(close, `the server closed (${closed.code}) without a trailer frame`);
        seen("grpc-websockets", `client closed ${closed.code}`);
      }
    }),
    { numRuns: scaled(200) },
  );
});

test("still healthy and leak-free after the HTTP fuzz", async () => {
  const h = await fetch(`${stack.url}/healthz`);
  assert.equal(h.status, 200);
  await h.text();
  const r = await fetch(`${stack.url}/demo.v1.EchoService/Echo`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ message: "still here" }) });
  assert.equal(((await r.json()) as { message: string }).message, "still here");
  await assertNoLeaks(stack, base);
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  summary("http-fuzz", { ...counts, total, distinctOutcomes: statusSeen.size });
  console.log("[reliability] http-fuzz outcomes: " + [...statusSeen].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k}×${v}`).join(", "));
});
