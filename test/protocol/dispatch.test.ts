/**
 * The dispatcher (src/protocol/dispatch.ts), decision by decision, on requests put on the seam by the
 * fetch converter (src/protocol/universal-fetch.ts) and by hand (HTTP/2, as the Node converter gives).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRegistry } from "@bufbuild/protobuf";
import { file_demo_v1_echo } from "../../src/gen/demo/v1/echo_pb.js";
import { createMethodSpecLookup } from "../../src/protocol/method-spec.js";
import { dispatch, isSameOrigin, type Dispatch, type DispatchOptions } from "../../src/protocol/dispatch.js";
import { HeaderList } from "../../src/protocol/header-list.js";
import { fromFetchRequest } from "../../src/protocol/universal-fetch.js";
import type { UniversalRequest } from "../../src/protocol/universal.js";

const methods = createMethodSpecLookup(createRegistry(file_demo_v1_echo));
const opts: DispatchOptions = { origins: ["https://app.example.com"], methods, assets: true };
const echo = "/demo.v1.EchoService/Echo";
const stream = "/demo.v1.EchoService/EchoStream";

function seam(url: string, init: RequestInit = {}): UniversalRequest {
  return fromFetchRequest(new Request("http://gw.local:5551" + url, init), undefined, 1024).request;
}

/** The decision as a short string: `pass`, `refuse <status>`, or `<protocol>[ <mode>]`. */
function decide(req: UniversalRequest, o: DispatchOptions = opts): string {
  const d: Dispatch = dispatch(req, o);
  if (d.kind === "pass") return "pass";
  if (d.kind === "refuse") return `refuse ${d.refuse.status}` + (d.refuse.headers.get("allow") ? ` allow=${d.refuse.headers.get("allow")}` : "");
  const r = d.route;
  if (r.protocol === "connect") return `connect ${r.mode}${r.json ? " json" : ""}${r.spec ? " " + r.spec.kind : ""}`;
  if (r.protocol === "grpc-web") return `grpc-web${r.contentType.text ? " text" : ""}`;
  if (r.protocol === "grpc-websockets") return `grpc-websockets${r.token ? " token=" + r.token : ""}`;
  return r.protocol;
}

const post = (ct: string, extra: Record<string, string> = {}): RequestInit => ({ method: "POST", headers: { "content-type": ct, ...extra }, body: "" });

test("Connect: unary, streaming, GET, with the method's kind", () => {
  assert.equal(decide(seam(echo, post("application/proto"))), "connect unary unary");
  assert.equal(decide(seam(echo, post("application/json"))), "connect unary json unary");
  assert.equal(decide(seam(stream, post("application/connect+proto"))), "connect stream server_streaming");
  assert.equal(decide(seam("/other.v1.S/M", post("application/connect+json"))), "connect stream json");
  assert.equal(decide(seam("/other.v1.S/M?message=", {})), "connect get");
});

test("Connect strict rules where the schema is known: 404, 405, 415", () => {
  assert.equal(decide(seam("/demo.v1.EchoService/Nope", post("application/proto"))), "refuse 404");
  assert.equal(decide(seam(echo + "?encoding=proto&message=", {})), "connect get unary", "Echo is NO_SIDE_EFFECTS");
  assert.equal(decide(seam(stream + "?encoding=proto&message=", {})), "refuse 405 allow=POST", "GET only for NO_SIDE_EFFECTS unary methods");
  assert.equal(decide(seam(echo, post("application/connect+proto"))), "refuse 415", "streaming content type, unary method");
  assert.equal(decide(seam(stream, post("application/proto"))), "refuse 415", "unary content type, streaming method");
  assert.equal(decide(seam(echo, post("text/plain"))), "refuse 415");
  assert.equal(decide(seam(echo, { method: "PUT", body: "" })), "refuse 405 allow=GET, POST");
  assert.equal(decide(seam(stream, { method: "PATCH", body: "" })), "refuse 405 allow=POST");
  assert.equal(decide(seam("/other.v1.S/M", { method: "DELETE" })), "pass", "unknown service: not an RPC");
  assert.equal(decide(seam("/other.v1.S/M", { method: "HEAD" })), "refuse 405 allow=POST, GET");
});

test("gRPC-Web binary and text by the content type prefix; its own refusals", () => {
  assert.equal(decide(seam(echo, post("application/grpc-web+proto"))), "grpc-web");
  assert.equal(decide(seam(echo, post("application/grpc-web-text"))), "grpc-web text");
  assert.equal(decide(seam(echo, post("application/grpc-webby"))), "refuse 415");
  assert.equal(decide(seam("/other.v1.S/M?message=", { headers: { "content-type": "application/grpc-web" } })), "refuse 405 allow=POST");
});

test("native gRPC only over HTTP/2, on any path", () => {
  const h2 = (ct: string, path: string): UniversalRequest => {
    const headers = new HeaderList();
    headers.set("content-type", ct);
    return { method: "POST", path, search: "", httpVersion: "2.0", headers, authority: "gw", body: null, signal: undefined, remoteAddress: undefined };
  };
  assert.equal(decide(h2("application/grpc", echo)), "grpc");
  assert.equal(decide(h2("application/grpc+json", "/a/b/c")), "grpc");
  assert.equal(decide(h2("application/grpc-web", echo)), "grpc-web");
  assert.equal(decide(seam(echo, post("application/grpc"))), "refuse 415", "a fetch Request is never HTTP/2: Connect refuses it");
});

test("grpc-websockets upgrades: origin checked, token from the query", () => {
  const ws = (origin?: string, q = ""): UniversalRequest =>
    seam("/rtc.RTC/Signal" + q, { headers: { upgrade: "websocket", "sec-websocket-protocol": "grpc-websockets", ...(origin ? { origin } : {}) } });
  assert.equal(decide(ws()), "grpc-websockets");
  assert.equal(decide(ws("https://app.example.com", "?token=t1")), "grpc-websockets token=t1");
  assert.equal(decide(ws("http://gw.local:5551")), "grpc-websockets", "same origin");
  assert.equal(decide(ws("https://evil.example")), "refuse 403");
  const d = dispatch(ws("https://evil.example"), opts);
  assert.ok(d.kind === "refuse" && d.warn?.msg === "websocket origin refused");
});

test("origin: allowed, same-origin, refused before any protocol", () => {
  assert.equal(decide(seam(echo, post("application/proto", { origin: "https://app.example.com" }))), "connect unary unary");
  assert.equal(decide(seam(echo, post("application/proto", { origin: "http://gw.local:5551" }))), "connect unary unary");
  assert.equal(decide(seam(echo, post("application/proto", { origin: "https://evil.example" }))), "refuse 403");
  assert.equal(decide(seam(echo, post("application/grpc-web", { origin: "null" }))), "refuse 403");
  assert.equal(isSameOrigin("http://gw.local", "GW.local:80"), true);
  assert.equal(isSameOrigin("https://gw.local", "gw.local:443"), true);
  assert.equal(isSameOrigin("https://gw.local#x", "gw.local"), false);
  assert.equal(isSameOrigin("http://gw.local", null), false);
});

test("static files: a GET without `message` to a service no schema knows passes; with assets off it is a Connect GET", () => {
  assert.equal(decide(seam("/vendor/x.js")), "pass");
  assert.equal(decide(seam("/vendor/x.js", { headers: { origin: "https://evil.example" } })), "pass", "files are not origin-checked");
  assert.equal(decide(seam("/vendor/x.js?message=")), "connect get");
  assert.equal(decide(seam("/vendor/x.js"), { ...opts, assets: false }), "connect get");
  assert.equal(decide(seam(echo)), "connect get unary", "a known service's path is never a file");
});
