/**
 * The CORS middleware in front of the adapters.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Hono } from "hono";
import { cors, corsAllowedHeaders } from "../../src/cors/index.js";
import { createEchoHandler } from "../helpers/echo-handler.js";
import { createTestApp } from "../helpers/protocol-server.js";
import { encodeEnvelope } from "../../src/protocol/envelope.js";

const echo = createEchoHandler();
const { app } = createTestApp(echo.handler, {});

const preflight = (origin: string, headers = "content-type, x-grpc-web, x-test-mode") =>
  app.request("/demo.v1.EchoService/Echo", {
    method: "OPTIONS",
    headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": headers },
  });

test("preflight from an allowed origin: 204, echoed origin, POST/GET, protocol + configured headers, max-age 600", async () => {
  const r = await preflight("http://allowed.test");
  assert.equal(r.status, 204);
  assert.equal(r.headers.get("access-control-allow-origin"), "http://allowed.test");
  assert.match(r.headers.get("vary") ?? "", /Origin/);
  assert.equal(r.headers.get("access-control-allow-methods"), "POST, GET");
  const allowed = (r.headers.get("access-control-allow-headers") ?? "").split(", ");
  for (const h of [...corsAllowedHeaders, "x-test-mode"]) assert.ok(allowed.includes(h), h);
  for (const h of ["authorization", "grpc-accept-encoding", "connect-protocol-version", "x-user-agent", "grpc-timeout"]) assert.ok(allowed.includes(h), h);
  assert.equal(r.headers.get("access-control-max-age"), "600");
  assert.equal((await preflight("https://sub.example.com")).status, 204, "subdomain pattern");
});

test("disallowed origin: preflight 403, actual response without CORS headers", async () => {
  const r = await preflight("https://evil.test");
  assert.equal(r.status, 403);
  assert.equal(r.headers.get("access-control-allow-origin"), null);
  const a = await app.request("/demo.v1.EchoService/Echo", {
    method: "POST",
    headers: { origin: "https://evil.test", "content-type": "application/grpc-web+proto" },
    body: encodeEnvelope(0, new Uint8Array(0)),
  });
  assert.equal(a.headers.get("access-control-allow-origin"), null);
  assert.equal(a.headers.get("access-control-expose-headers"), null);
});

test("actual response: protocol headers and the response's custom headers are exposed", async () => {
  const r = await app.request("/demo.v1.EchoService/Echo", {
    method: "POST",
    headers: { origin: "http://allowed.test", "content-type": "application/grpc-web+proto", "x-test-mode": "fail", "x-fail-code": "7" },
    body: encodeEnvelope(0, new Uint8Array(0)),
  });
  assert.equal(r.headers.get("grpc-status"), "7"); // trailers-only: the browser must be allowed to read it
  assert.equal(r.headers.get("access-control-allow-origin"), "http://allowed.test");
  const exposed = (r.headers.get("access-control-expose-headers") ?? "").split(", ");
  for (const h of ["grpc-status", "grpc-message", "grpc-status-details-bin", "connect-content-encoding", "x-edge-node", "x-trailer"]) assert.ok(exposed.includes(h), h);
  assert.ok(!exposed.includes("content-type"));
  const u = await app.request("/demo.v1.EchoService/Echo", {
    method: "POST",
    headers: { origin: "http://allowed.test", "content-type": "application/proto", "x-test-mode": "meta" },
    body: new Uint8Array(0),
  });
  const ex = (u.headers.get("access-control-expose-headers") ?? "").split(", ");
  assert.ok(ex.includes("x-header") && ex.includes("trailer-x-trailer"), ex.join());
});

test("no Origin: untouched; '*' without credentials answers '*'; reflected headers; a configured expose list", async () => {
  const r = await app.request("/demo.v1.EchoService/Echo", { method: "POST", headers: { "content-type": "application/proto" }, body: new Uint8Array(0) });
  assert.equal(r.headers.get("access-control-allow-origin"), null);
  const any = new Hono();
  any.use("*", cors({ allowOrigins: "*", allowHeaders: "*", exposeHeaders: ["x-only"] }));
  any.post("/x", (c) => c.body("ok", 200, { "x-custom": "1" }));
  const p = await any.request("/x", { method: "OPTIONS", headers: { origin: "https://a.test", "access-control-request-method": "POST", "access-control-request-headers": "X-Room, content-type" } });
  assert.equal(p.headers.get("access-control-allow-origin"), "*");
  assert.ok((p.headers.get("access-control-allow-headers") ?? "").split(", ").includes("x-room"));
  const a = await any.request("/x", { method: "POST", headers: { origin: "https://a.test" } });
  const ex = (a.headers.get("access-control-expose-headers") ?? "").split(", ");
  assert.ok(ex.includes("x-only") && ex.includes("grpc-status") && !ex.includes("x-custom"));
  const cred = new Hono();
  cred.use("*", cors({ allowOrigins: "*", credentials: true }));
  cred.post("/x", (c) => c.text("ok"));
  const c = await cred.request("/x", { method: "POST", headers: { origin: "https://a.test" } });
  assert.equal(c.headers.get("access-control-allow-origin"), "https://a.test");
  assert.equal(c.headers.get("access-control-allow-credentials"), "true");
});
