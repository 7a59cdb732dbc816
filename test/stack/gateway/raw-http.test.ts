/**
 * The running gateway with raw `fetch`: gRPC-Web-text, Connect GET, Connect JSON and gRPC-Web `+json`
 * (the compiled demo schema, and a FileDescriptorSet named in `edge.descriptor_sets`), JSON without a
 * schema, and how error codes map onto HTTP for each protocol.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code } from "@connectrpc/connect";
import { startStack, type Stack } from "../../helpers/gateway.js";
import { connectCode } from "../../helpers/codes.js";
import { descriptorSet, echoReq, echoRes, renamedEchoFile } from "../../helpers/echo-schema.js";
import { startProbe, type Probe } from "../../helpers/probe-backend.js";
import { b64, b64url, envelope, envelopes, fromGrpcWebText, grpcWebResult } from "../../helpers/grpc-web.js";

let stack: Stack;
let probe: Probe;
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "edge-gw-raw-"));
  const set = join(dir, "schema.binpb");
  await writeFile(set, descriptorSet(renamedEchoFile("schema.v1")));
  stack = await startStack({ config: { edge: { routes: { "probe.v1": "probe", "schema.v1": "probe" }, descriptor_sets: [set] } } });
  probe = await startProbe(stack.nats, { nid: "probe-raw", service: "probe", packages: ["probe.v1", "schema.v1"] });
  await stack.waitForNodes(1, "probe");
});
after(async () => {
  await probe?.close();
  await stack?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const demoNids = () => stack.nodes.map((n) => n.node.nid);
const bytes = async (r: Response) => new Uint8Array(await r.arrayBuffer());

async function grpcWebText(path: string, msgs: Uint8Array[], headers: Record<string, string> = {}) {
  const res = await fetch(stack.url + path, {
    method: "POST",
    headers: { "content-type": "application/grpc-web-text", accept: "application/grpc-web-text", "x-grpc-web": "1", ...headers },
    // Each message its own base64 chunk (padded), as the Google client writes them.
    body: msgs.map((m) => b64(envelope(m))).join(""),
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^application\/grpc-web-text/);
  return { res, ...grpcWebResult(res.headers, fromGrpcWebText(await res.text())) };
}

test("gRPC-Web-text: unary and server streaming, x-edge-node, backend header and trailer frame", async () => {
  const u = await grpcWebText("/demo.v1.EchoService/Echo", [echoReq("header:x-a=b")]);
  assert.equal(u.code, 0);
  assert.equal(u.data.length, 1);
  const r = echoRes(u.data[0]!);
  assert.equal(r.message, "header:x-a=b");
  assert.equal(u.res.headers.get("x-edge-node"), r.node);
  assert.ok(demoNids().includes(r.node));
  assert.equal(u.res.headers.get("x-a"), "b");
  assert.equal(u.trailers.get("x-a-trailer"), "b");

  const s = await grpcWebText("/probe.v1.EchoService/EchoStream", [echoReq("t", 4)]);
  assert.equal(s.code, 0);
  assert.deepEqual(s.data.map((d) => echoRes(d).message), ["t 0", "t 1", "t 2", "t 3"]);
  assert.equal(s.trailers.get("x-probe-trailer"), probe.nid);
});

test("gRPC-Web-text and binary: errors are HTTP 200 with grpc-status, message and trailers", async () => {
  const t = await grpcWebText("/probe.v1.EchoService/Echo", [echoReq("error:7:denied here")]);
  assert.equal(t.code, Code.PermissionDenied);
  assert.equal(t.message, "denied here");
  assert.equal(t.trailers.get("x-probe-err-trailer"), "1");

  const res = await fetch(stack.url + "/demo.v1.EchoService/Echo", {
    method: "POST",
    headers: { "content-type": "application/grpc-web+proto", "x-grpc-web": "1" },
    body: envelope(echoReq("error:16:who are you")),
  });
  assert.equal(res.status, 200);
  const b = grpcWebResult(res.headers, await bytes(res));
  assert.equal(b.code, Code.Unauthenticated);
  assert.equal(b.message, "who are you");
});

test("Connect GET: proto in base64url and JSON in the query", async () => {
  const q = `connect=v1&encoding=proto&base64=1&message=${b64url(echoReq("header:x-g=1"))}`;
  const res = await fetch(`${stack.url}/demo.v1.EchoService/Echo?${q}`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/proto");
  const r = echoRes(await bytes(res));
  assert.equal(r.message, "header:x-g=1");
  assert.equal(res.headers.get("x-edge-node"), r.node);
  assert.equal(res.headers.get("x-g"), "1");
  assert.equal(res.headers.get("trailer-x-g-trailer"), "1", "Connect unary trailers travel as trailer- headers");

  const j = await fetch(`${stack.url}/demo.v1.EchoService/Echo?connect=v1&encoding=json&message=${encodeURIComponent(JSON.stringify({ message: "get json" }))}`);
  assert.equal(j.status, 200);
  assert.match(j.headers.get("content-type") ?? "", /^application\/json/);
  const body = (await j.json()) as { message: string; node: string };
  assert.equal(body.message, "get json");
  assert.ok(demoNids().includes(body.node));

  const e = await fetch(`${stack.url}/demo.v1.EchoService/Echo?connect=v1&encoding=proto&base64=1&message=${b64url(echoReq("error:7:denied"))}`);
  assert.equal(e.status, 403);
  assert.deepEqual(await e.json(), { code: "permission_denied", message: "denied" });
});

test("Connect unary errors map to their HTTP statuses with a JSON error body", async () => {
  const table: [Code, number][] = [
    [Code.Canceled, 499],
    [Code.InvalidArgument, 400],
    [Code.DeadlineExceeded, 504],
    [Code.NotFound, 404],
    [Code.AlreadyExists, 409],
    [Code.PermissionDenied, 403],
    [Code.ResourceExhausted, 429],
    [Code.FailedPrecondition, 400],
    [Code.Unimplemented, 501],
    [Code.Internal, 500],
    [Code.Unavailable, 503],
    [Code.Unauthenticated, 401],
  ];
  for (const [code, status] of table) {
    const res = await fetch(stack.url + "/probe.v1.EchoService/Echo", {
      method: "POST",
      headers: { "content-type": "application/proto", "connect-protocol-version": "1" },
      body: echoReq(`error:${code}:e${code}`),
    });
    assert.equal(res.status, status, Code[code]);
    assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
    const body = (await res.json()) as { code: string; message: string };
    assert.deepEqual(body, { code: connectCode(code), message: `e${code}` }, Code[code]);
    assert.equal(res.headers.get("trailer-x-probe-err-trailer"), "1", Code[code]);
  }
});

test("Connect JSON and gRPC-Web +json work for the compiled demo schema", async () => {
  const res = await fetch(stack.url + "/demo.v1.EchoService/Echo", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ message: "json in" }),
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  const j = (await res.json()) as { message: string; node: string };
  assert.equal(j.message, "json in");
  assert.equal(res.headers.get("x-edge-node"), j.node);

  const gw = await fetch(stack.url + "/demo.v1.EchoService/EchoStream", {
    method: "POST",
    headers: { "content-type": "application/grpc-web+json", "x-grpc-web": "1" },
    body: envelope(new TextEncoder().encode(JSON.stringify({ message: "gj", repeat: 2 }))),
  });
  assert.equal(gw.status, 200);
  assert.match(gw.headers.get("content-type") ?? "", /^application\/grpc-web\+json/);
  const g = grpcWebResult(gw.headers, await bytes(gw));
  assert.equal(g.code, 0);
  assert.deepEqual(g.data.map((d) => (JSON.parse(new TextDecoder().decode(d)) as { message: string }).message), ["gj 0", "gj 1"]);

  // Connect streaming JSON (envelopes, end-stream JSON).
  const cs = await fetch(stack.url + "/demo.v1.EchoService/EchoStream", {
    method: "POST",
    headers: { "content-type": "application/connect+json" },
    body: envelope(new TextEncoder().encode(JSON.stringify({ message: "cj", repeat: 2 }))),
  });
  assert.equal(cs.status, 200);
  const frames = envelopes(await bytes(cs));
  assert.equal(frames.length, 3);
  assert.equal(frames[2]!.flags & 0x02, 0x02, "end-stream frame last");
  assert.deepEqual(JSON.parse(new TextDecoder().decode(frames[2]!.data)).error, undefined);
});

test("JSON for a service without a schema is refused clearly, before any backend call", async () => {
  const before = probe.calls.length;
  const c = await fetch(stack.url + "/probe.v1.EchoService/Echo", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ message: "no schema" }),
  });
  assert.equal(c.status, 415);
  const body = (await c.json()) as { code: string; message: string };
  assert.equal(body.code, "invalid_argument");
  assert.match(body.message, /JSON is not available for \/probe\.v1\.EchoService\/Echo/);

  const g = await fetch(stack.url + "/probe.v1.EchoService/Echo", {
    method: "POST",
    headers: { "content-type": "application/grpc-web+json", "x-grpc-web": "1" },
    body: envelope(new TextEncoder().encode(JSON.stringify({ message: "no schema" }))),
  });
  const r = grpcWebResult(g.headers, await bytes(g));
  assert.equal(r.code, Code.InvalidArgument);
  assert.match(r.message, /JSON/);
  assert.equal(probe.calls.length, before, "the backend was never called");
});

test("a FileDescriptorSet named in edge.descriptor_sets gives JSON support for its services", async () => {
  const res = await fetch(stack.url + "/schema.v1.EchoService/Echo", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ message: "from the descriptor set" }),
  });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { message: "from the descriptor set", node: probe.nid });
  const c = await probe.call("Echo", "from the descriptor set");
  assert.equal(c.service, "schema.v1.EchoService");

  const gw = await fetch(stack.url + "/schema.v1.EchoService/EchoStream", {
    method: "POST",
    headers: { "content-type": "application/grpc-web-text+json", "x-grpc-web": "1" },
    body: b64(envelope(new TextEncoder().encode(JSON.stringify({ message: "ds", repeat: 3 })))),
  });
  const g = grpcWebResult(gw.headers, fromGrpcWebText(await gw.text()));
  assert.equal(g.code, 0);
  assert.deepEqual(g.data.map((d) => JSON.parse(new TextDecoder().decode(d)) as unknown), [0, 1, 2].map((i) => ({ message: `ds ${i}`, node: probe.nid })));
});
