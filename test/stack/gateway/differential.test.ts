/**
 * Differential test: the same raw requests (HTTP/1.1 and h2c) to an in-process
 * @connectrpc/connect-node server serving demo.v1.EchoService with the demo node's implementation, and
 * to the gateway (real nats-server, one TS demo node), answers compared field by field. The allowed
 * differences are the table in docs/differential.md, which this test reads; a difference without a
 * row fails, and so does a row no request uses. `DIFF_DEBUG=<part of a request name>` prints both raw
 * answers of the requests it names.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync, mkdtempSync } from "node:fs";
import http from "node:http";
import http2 from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync, gunzipSync } from "node:zlib";
import { create, createFileRegistry, fromBinary, toBinary, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter, HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { Code } from "@connectrpc/connect";
import { compressionGzip, connectNodeAdapter } from "@connectrpc/connect-node";
import { echoServiceImpl } from "../../../src/demo/echo-service.js";
import { EchoRequestSchema, EchoResponseSchema, EchoService } from "../../../src/gen/demo/v1/echo_pb.js";
import { startStack, type Stack } from "../../helpers/gateway.js";
import { H2Sessions } from "../../helpers/h2-exchange.js";
import { connectCode } from "../../helpers/codes.js";
import { descriptorSet, renamedEchoFile } from "../../helpers/echo-schema.js";
import { startProbe, type Probe } from "../../helpers/probe-backend.js";
import { b64url, envelope, envelopes, headerBlock } from "../../helpers/grpc-web.js";

const enc = new TextEncoder();
const dec = new TextDecoder();

// ---------------------------------------------------------------------------------------------
// The allowed differences.

interface Allowance {
  readonly request: RegExp;
  readonly pattern: string;
  readonly field: string;
  used: number;
}

function readAllowances(): Allowance[] {
  const text = readFileSync(new URL("../../../docs/differential.md", import.meta.url), "utf8");
  const rows: Allowance[] = [];
  for (const line of text.split("\n")) {
    const m = /^\|\s*`([^`]+)`\s*\|\s*`([^`]+)`\s*\|/.exec(line);
    if (m === null) continue;
    const pattern = m[1]!;
    const re = new RegExp("^" + pattern.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*") + "$");
    rows.push({ request: re, pattern, field: m[2]!, used: 0 });
  }
  assert.ok(rows.length > 0, "docs/differential.md has its table");
  return rows;
}

// ---------------------------------------------------------------------------------------------
// The servers.

/** diff.v1.EchoService: demo.v1's EchoService with Echo not NO_SIDE_EFFECTS (served from a descriptor set). */
const diffFile = (() => {
  const fp = renamedEchoFile("diff.v1");
  fp.service[0]!.method[0]!.options = undefined;
  return fp;
})();
const diffService = createFileRegistry(create(FileDescriptorSetSchema, { file: [diffFile] })).getService("diff.v1.EchoService")! as DescService as typeof EchoService;

/** The demo implementation as a connect-es service: its header/trailer hooks write the context's. */
function referenceImpl(): ServiceImpl<typeof EchoService> {
  const impl = echoServiceImpl("reference");
  const ctxOf = (ctx: HandlerContext) => ({
    signal: ctx.signal,
    setHeader: (md: Map<string, string[]>) => md.forEach((vs, k) => vs.forEach((v) => ctx.responseHeader.append(k, v))),
    setTrailer: (md: Map<string, string[]>) => md.forEach((vs, k) => vs.forEach((v) => ctx.responseTrailer.append(k, v))),
  });
  return {
    echo: (req, ctx) => impl.echo(req, ctxOf(ctx) as never),
    echoStream: (req, ctx) => impl.echoStream(req, ctxOf(ctx) as never),
    echoClientStream: (reqs, ctx) => impl.echoClientStream(reqs, ctxOf(ctx) as never),
    echoBidi: (reqs, ctx) => impl.echoBidi(reqs, ctxOf(ctx) as never),
  } as ServiceImpl<typeof EchoService>;
}

let stack: Stack;
let probe: Probe;
let refH1: http.Server;
let refH2: http2.Http2Server;
const ref = { h1: "", h2: "" };

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), "edge-diff-"));
  const dsPath = join(dir, "diff.binpb");
  writeFileSync(dsPath, descriptorSet(diffFile));
  stack = await startStack({ nodes: 1, config: { edge: { routes: { "diff.v1": "probe" }, descriptor_sets: [dsPath] } } });
  probe = await startProbe(stack.nats, { nid: "probe-diff", service: "probe", packages: ["diff.v1"] });
  await stack.waitForNodes(1, "probe");
  const adapter = connectNodeAdapter({
    routes: (r: ConnectRouter) => {
      r.service(EchoService, referenceImpl());
      r.service(diffService, referenceImpl());
    },
    acceptCompression: [compressionGzip],
  });
  refH1 = http.createServer(adapter);
  refH2 = http2.createServer(adapter);
  for (const [k, s] of [["h1", refH1], ["h2", refH2]] as const) {
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
    ref[k] = `http://127.0.0.1:${(s.address() as { port: number }).port}`;
  }
});
after(async () => {
  h2.close();
  refH1?.close();
  refH2?.close();
  await probe?.close();
  await stack?.stop();
});

// ---------------------------------------------------------------------------------------------
// Raw requests and their normalized answers.

type Kind = "connect-unary" | "connect-stream" | "grpc-web" | "grpc-web-text" | "grpc" | "none";

interface Req {
  readonly name: string;
  readonly h2?: boolean;
  readonly method: string;
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: Uint8Array;
  /** How to read the answer's body. */
  readonly kind: Kind;
  readonly json?: boolean;
}

interface Raw {
  status: number;
  headers: Record<string, string>;
  trailers: Record<string, string>;
  body: Buffer;
}

const h2 = new H2Sessions();

async function send(base: string, r: Req): Promise<Raw> {
  const headers = { ...(r.headers ?? {}) };
  if (!r.h2) {
    return new Promise((resolve, reject) => {
      const req = http.request(base + r.path, { method: r.method, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode!, headers: flat(res.headers), trailers: flat(res.trailers), body: Buffer.concat(chunks) }));
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end(r.body);
    });
  }
  const a = await h2.exchange(base, { ":method": r.method, ":path": r.path, ...headers }, r.body);
  return { status: a.status, headers: flat(a.head), trailers: flat(a.trailers), body: a.body };
}

function flat(h: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined && !k.startsWith(":")) out[k] = Array.isArray(v) ? v.join(", ") : String(v);
  return out;
}

/** The compared fields of an answer. */
type Answer = Record<string, string>;

const codeName = (n: number) => (n === 0 ? "ok" : connectCode(n as Code));
const messageOf = (b: Uint8Array, json: boolean | undefined) => (json ? (JSON.parse(dec.decode(b)) as { message?: string }).message ?? "" : fromBinary(EchoResponseSchema, b).message);

function normalize(r: Req, raw: Raw): Answer {
  const h = raw.headers;
  const a: Answer = {
    status: String(raw.status),
    "content-type": (h["content-type"] ?? "").split(";")[0]!.trim().toLowerCase(),
    allow: h["allow"] ?? "",
    "grpc-accept-encoding": h["grpc-accept-encoding"] ?? "",
    "x-edge-node": h["x-edge-node"] !== undefined ? "present" : "",
  };
  let body: Uint8Array = raw.body;
  if (h["content-encoding"] === "gzip" && body.byteLength > 0) body = gunzipSync(body);
  const messages: string[] = [];
  let code = "";
  let message = "";
  const ct = a["content-type"]!;
  if (r.kind === "connect-unary" || (ct === "application/json" && r.kind !== "grpc")) {
    if (raw.status === 200) {
      messages.push(messageOf(body, ct === "application/json"));
      code = "ok";
    } else if (ct === "application/json" && body.byteLength > 0) {
      const e = JSON.parse(dec.decode(body)) as { code?: string; message?: string };
      code = e.code ?? "";
      message = e.message ?? "";
    }
  } else if (r.kind === "connect-stream" && raw.status === 200) {
    for (const f of envelopes(body)) {
      const d = f.flags & 0x01 ? gunzipSync(f.data) : f.data;
      if (f.flags & 0x02) {
        const end = JSON.parse(dec.decode(d)) as { error?: { code?: string; message?: string } };
        code = end.error?.code ?? "ok";
        message = end.error?.message ?? "";
      } else messages.push(messageOf(d, r.json));
    }
  } else if ((r.kind === "grpc-web" || r.kind === "grpc-web-text" || r.kind === "grpc") && raw.status === 200) {
    if (r.kind === "grpc-web-text") body = Buffer.from(dec.decode(body).replace(/\s/g, "").split(/(?<==)(?=[A-Za-z0-9+/])/).map((s) => Buffer.from(s, "base64").toString("binary")).join(""), "binary");
    let trailers: Record<string, string> = r.kind === "grpc" ? raw.trailers : {};
    for (const f of envelopes(body)) {
      if (f.flags & 0x80) trailers = Object.fromEntries(headerBlock(f.data));
      else messages.push(messageOf(f.flags & 0x01 ? gunzipSync(f.data) : f.data, r.json));
    }
    const trailersOnly = h["grpc-status"] !== undefined;
    if (trailersOnly) trailers = h;
    a["grpc-accept-encoding"] = trailers["grpc-accept-encoding"] ?? a["grpc-accept-encoding"]!;
    a["trailers-only"] = trailersOnly ? "yes" : "no";
    code = trailers["grpc-status"] !== undefined ? codeName(Number(trailers["grpc-status"])) : "";
    message = decodeURIComponent(trailers["grpc-message"] ?? "");
  }
  a["code"] = code;
  a["error-message"] = message;
  a["messages"] = JSON.stringify(messages);
  return a;
}

// ---------------------------------------------------------------------------------------------
// The requests.

const req = (message: string, repeat = 0) => toBinary(EchoRequestSchema, create(EchoRequestSchema, { message, repeat }));
const json = (message: string, repeat = 0) => enc.encode(JSON.stringify(repeat ? { message, repeat } : { message }));
const cat = (...parts: Uint8Array[]) => Buffer.concat(parts);
const S = "/demo.v1.EchoService/";
const proto = { "content-type": "application/proto" };
const cjson = { "content-type": "application/json" };
const sproto = { "content-type": "application/connect+proto" };
const gw = { "content-type": "application/grpc-web+proto" };
const g = { "content-type": "application/grpc", te: "trailers" };

const requests: Req[] = [
  // Normal calls.
  { name: "connect unary proto", method: "POST", path: S + "Echo", headers: proto, body: req("hi"), kind: "connect-unary" },
  { name: "connect unary json", method: "POST", path: S + "Echo", headers: cjson, body: json("hi"), kind: "connect-unary", json: true },
  { name: "connect unary proto h2", h2: true, method: "POST", path: S + "Echo", headers: proto, body: req("hi"), kind: "connect-unary" },
  { name: "connect unary gzip request", method: "POST", path: S + "Echo", headers: { ...proto, "content-encoding": "gzip" }, body: gzipSync(req("zipped")), kind: "connect-unary" },
  { name: "connect unary error", method: "POST", path: S + "Echo", headers: proto, body: req("error:5:nope"), kind: "connect-unary" },
  { name: "connect unary error json", method: "POST", path: S + "Echo", headers: cjson, body: json("error:9:nope"), kind: "connect-unary", json: true },
  { name: "connect GET proto", method: "GET", path: S + `Echo?connect=v1&encoding=proto&base64=1&message=${b64url(req("get"))}`, kind: "connect-unary" },
  { name: "connect GET json", method: "GET", path: S + `Echo?connect=v1&encoding=json&message=${encodeURIComponent('{"message":"get"}')}`, kind: "connect-unary", json: true },
  { name: "connect server stream proto", method: "POST", path: S + "EchoStream", headers: sproto, body: envelope(req("s", 3)), kind: "connect-stream" },
  { name: "connect server stream json", method: "POST", path: S + "EchoStream", headers: { "content-type": "application/connect+json" }, body: envelope(json("s", 2)), kind: "connect-stream", json: true },
  { name: "connect client stream", method: "POST", path: S + "EchoClientStream", headers: sproto, body: cat(envelope(req("a")), envelope(req("b"))), kind: "connect-stream" },
  { name: "connect bidi h2", h2: true, method: "POST", path: S + "EchoBidi", headers: sproto, body: cat(envelope(req("a")), envelope(req("b"))), kind: "connect-stream" },
  { name: "connect bidi h1 half-duplex", method: "POST", path: S + "EchoBidi", headers: sproto, body: cat(envelope(req("a")), envelope(req("b"))), kind: "connect-stream" },
  { name: "connect server stream error", method: "POST", path: S + "EchoStream", headers: sproto, body: envelope(req("error:8:busy")), kind: "connect-stream" },
  { name: "grpc-web unary", method: "POST", path: S + "Echo", headers: gw, body: envelope(req("hi")), kind: "grpc-web" },
  { name: "grpc-web server stream", method: "POST", path: S + "EchoStream", headers: gw, body: envelope(req("s", 3)), kind: "grpc-web" },
  { name: "grpc-web client stream", method: "POST", path: S + "EchoClientStream", headers: gw, body: cat(envelope(req("a")), envelope(req("b"))), kind: "grpc-web" },
  { name: "grpc-web unary error", method: "POST", path: S + "Echo", headers: gw, body: envelope(req("error:7:no")), kind: "grpc-web" },
  { name: "grpc-web-text unary", method: "POST", path: S + "Echo", headers: { "content-type": "application/grpc-web-text" }, body: enc.encode(Buffer.from(envelope(req("txt"))).toString("base64")), kind: "grpc-web-text" },
  { name: "grpc unary", h2: true, method: "POST", path: S + "Echo", headers: g, body: envelope(req("hi")), kind: "grpc" },
  { name: "grpc server stream", h2: true, method: "POST", path: S + "EchoStream", headers: g, body: envelope(req("s", 3)), kind: "grpc" },
  { name: "grpc client stream", h2: true, method: "POST", path: S + "EchoClientStream", headers: g, body: cat(envelope(req("a")), envelope(req("b"))), kind: "grpc" },
  { name: "grpc bidi", h2: true, method: "POST", path: S + "EchoBidi", headers: g, body: cat(envelope(req("a")), envelope(req("b"))), kind: "grpc" },
  { name: "grpc unary error", h2: true, method: "POST", path: S + "Echo", headers: g, body: envelope(req("error:3:bad")), kind: "grpc" },
  { name: "grpc unary gzip message", h2: true, method: "POST", path: S + "Echo", headers: { ...g, "grpc-encoding": "gzip" }, body: envelope(gzipSync(req("zipped")), 1), kind: "grpc" },

  // The table: strict rules where the gateway knows the schema.
  { name: "grpc unary two messages error", h2: true, method: "POST", path: S + "Echo", headers: g, body: cat(envelope(req("a")), envelope(req("b"))), kind: "grpc" },
  { name: "grpc server stream two messages error", h2: true, method: "POST", path: S + "EchoStream", headers: g, body: cat(envelope(req("a")), envelope(req("b"))), kind: "grpc" },
  { name: "grpc unary no message error", h2: true, method: "POST", path: S + "Echo", headers: g, body: new Uint8Array(0), kind: "grpc" },
  { name: "grpc-web unary two messages error", method: "POST", path: S + "Echo", headers: gw, body: cat(envelope(req("a")), envelope(req("b"))), kind: "grpc-web" },
  { name: "grpc-web server stream two messages error", method: "POST", path: S + "EchoStream", headers: gw, body: cat(envelope(req("a")), envelope(req("b"))), kind: "grpc-web" },
  { name: "connect server stream two messages", method: "POST", path: S + "EchoStream", headers: sproto, body: cat(envelope(req("a")), envelope(req("b"))), kind: "connect-stream" },
  { name: "connect GET not NO_SIDE_EFFECTS 405", method: "GET", path: `/diff.v1.EchoService/Echo?connect=v1&encoding=proto&base64=1&message=${b64url(req("get"))}`, kind: "connect-unary" },
  { name: "connect POST not NO_SIDE_EFFECTS", method: "POST", path: "/diff.v1.EchoService/Echo", headers: proto, body: req("post"), kind: "connect-unary" },
  { name: "connect GET server stream 405", method: "GET", path: S + `EchoStream?connect=v1&encoding=proto&base64=1&message=${b64url(req("get"))}`, kind: "connect-unary" },
  { name: "connect GET bidi h2 405", h2: true, method: "GET", path: S + `EchoBidi?connect=v1&encoding=proto&base64=1&message=${b64url(req("get"))}`, kind: "connect-unary" },
  { name: "connect unary type on server stream 415", method: "POST", path: S + "EchoStream", headers: proto, body: req("x"), kind: "connect-unary" },
  { name: "connect json unary type on client stream 415", method: "POST", path: S + "EchoClientStream", headers: cjson, body: json("x"), kind: "connect-unary", json: true },
  { name: "connect stream type on unary 415", method: "POST", path: S + "Echo", headers: sproto, body: envelope(req("x")), kind: "connect-stream" },
  { name: "connect empty body with gzip", method: "POST", path: S + "Echo", headers: { ...proto, "content-encoding": "gzip" }, body: new Uint8Array(0), kind: "connect-unary" },
  { name: "connect GET proto without message", method: "GET", path: S + "Echo?connect=v1&encoding=proto", kind: "connect-unary" },
  { name: "connect GET json without message", method: "GET", path: S + "Echo?connect=v1&encoding=json", kind: "connect-unary", json: true },
  { name: "grpc unsupported grpc-encoding error", h2: true, method: "POST", path: S + "Echo", headers: { ...g, "grpc-encoding": "snappy" }, body: envelope(req("x"), 1), kind: "grpc" },
  { name: "grpc-web unsupported grpc-encoding error", method: "POST", path: S + "Echo", headers: { ...gw, "grpc-encoding": "snappy" }, body: envelope(req("x"), 1), kind: "grpc-web" },
  { name: "connect unknown method json", method: "POST", path: S + "Nope", headers: cjson, body: json("x"), kind: "connect-unary", json: true },
  { name: "connect unknown method proto", method: "POST", path: S + "Nope", headers: proto, body: req("x"), kind: "connect-unary" },
  { name: "PUT 405", method: "PUT", path: S + "Echo", headers: proto, body: req("x"), kind: "none" },
  { name: "DELETE 405", method: "DELETE", path: S + "EchoStream", kind: "none" },
  { name: "connect invalid json", method: "POST", path: S + "Echo", headers: cjson, body: enc.encode("{"), kind: "connect-unary", json: true },
  { name: "connect json wrong field type", method: "POST", path: S + "Echo", headers: cjson, body: enc.encode('{"repeat":"x"}'), kind: "connect-unary", json: true },
];

test("the gateway answers as connect-node does, but for the differences docs/differential.md allows", async () => {
  const allowances = readAllowances();
  const unexplained: string[] = [];
  const started = Date.now();
  for (const r of requests) {
    const [want, got] = await Promise.all([send(r.h2 ? ref.h2 : ref.h1, r), send(stack.url, r)]);
    if (process.env.DIFF_DEBUG && r.name.includes(process.env.DIFF_DEBUG)) console.log(r.name, want, got);
    const a = normalize(r, want);
    const b = normalize(r, got);
    for (const field of new Set([...Object.keys(a), ...Object.keys(b)])) {
      if ((a[field] ?? "") === (b[field] ?? "")) continue;
      const row = allowances.find((w) => w.field === field && w.request.test(r.name));
      if (row !== undefined) row.used++;
      else unexplained.push(`${r.name}: ${field}: connect-node ${JSON.stringify(a[field] ?? "")}, gateway ${JSON.stringify(b[field] ?? "")}`);
    }
  }
  console.log(`differential: ${requests.length} requests in ${Date.now() - started} ms`);
  assert.deepEqual(unexplained, [], "differences without a row in docs/differential.md");
  const unused = allowances.filter((w) => w.used === 0).map((w) => `${w.pattern} / ${w.field}`);
  assert.deepEqual(unused, [], "rows of docs/differential.md that no request uses");
});

test("the gateway's invalid-JSON error says what is wrong once", async () => {
  const got = normalize(requests.find((r) => r.name === "connect invalid json")!, await send(stack.url, requests.find((r) => r.name === "connect invalid json")!));
  assert.equal(got["code"], "invalid_argument");
  assert.equal(got["error-message"]!.match(/cannot decode/g)?.length, 1, got["error-message"]);
});

test("405 on a known RPC path lists the methods it allows", async () => {
  for (const [path, method, allow] of [[S + "Echo", "PUT", "GET, POST"], [S + "EchoStream", "DELETE", "POST"], ["/diff.v1.EchoService/Echo", "GET", "POST"]] as const) {
    const got = await send(stack.url, { name: path, method, path, kind: "none" });
    assert.equal(got.status, 405, `${method} ${path}`);
    assert.equal(got.headers["allow"], allow, `${method} ${path}`);
  }
});
