/**
 * Origin parsing and allow-list matching (src/protocol/origin.ts), in-process: an Origin is parsed
 * into scheme, host and port before matching, patterns match hosts only, and anything that is not a
 * serialized origin (`https://evil.com#.ok.example.com`, `?`, `\`, `/`, userinfo, `null`, "") is
 * refused. A fast-check property checks every allowed string against the WHATWG URL parser.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { isOriginAllowed, parseOrigin, parseOriginPattern } from "../../src/protocol/origin.js";
import { checkWebSocketOrigin } from "../../src/protocol-grpc-websockets/index.js";

const allow = ["https://*.ok.example.com", "https://app.test", "http://localhost:5173"];

test("spoofed origins that end like an allowed pattern are refused", () => {
  for (const o of [
    "https://evil.com#.ok.example.com",
    "https://evil.com?.ok.example.com",
    "https://evil.com\\.ok.example.com",
    "https://evil.com/.ok.example.com",
    "https://evil.com@a.ok.example.com",
    "https://user:pw@a.ok.example.com",
    "https://a.ok.example.com/",
    "https://a.ok.example.com#",
    "https://a.ok.example.com.evil.com",
    "https://ok.example.com",
    "https://.ok.example.com",
    "https://a..ok.example.com",
    "https://a b.ok.example.com",
    "https://a.ok.example.com:0",
    "https://a.ok.example.com:65536",
    "https://a.ok.example.com:08443",
    "https://app.test#",
    "https://app.test.",
    "http://localhost:5173/x",
    "http://localhost:51730",
    "null",
    "",
    " https://app.test",
    "https://app.test ",
  ]) {
    assert.equal(isOriginAllowed(o, allow), false, JSON.stringify(o));
    assert.equal(checkWebSocketOrigin(o, allow), false, `websocket ${JSON.stringify(o)}`);
  }
});

test("well-formed origins match by scheme, host and port", () => {
  for (const o of ["https://a.ok.example.com", "https://A.B.ok.Example.COM", "https://a.ok.example.com:443", "https://app.test", "HTTPS://APP.TEST", "http://localhost:5173"]) {
    assert.equal(isOriginAllowed(o, allow), true, o);
  }
  for (const o of ["http://a.ok.example.com", "https://a.ok.example.com:8443", "wss://app.test", "http://localhost", "http://localhost:5174"]) {
    assert.equal(isOriginAllowed(o, allow), false, o);
  }
  assert.equal(isOriginAllowed("https://a.test:8443", ["https://*.test:8443"]), true);
  assert.equal(isOriginAllowed("http://[::1]:3000", ["http://[::1]:3000"]), true);
  assert.equal(isOriginAllowed("null", "*"), true, "`*` allows anything, as before");
  assert.equal(checkWebSocketOrigin(undefined, allow), true, "no Origin: a non-browser client");
  assert.deepEqual(parseOrigin("HTTPS://A.Example.com:443"), { scheme: "https", host: "a.example.com", port: "" });
  assert.deepEqual(parseOrigin("http://a.example.com:8080"), { scheme: "http", host: "a.example.com", port: "8080" });
});

test("patterns: only scheme://host[:port], a leading *. for subdomains", () => {
  for (const p of ["https://*.example.com", "https://example.com", "http://localhost:5173", "https://*.a.b:8443"]) assert.ok(parseOriginPattern(p), p);
  for (const p of ["https://*example.com", "https://a.*.example.com", "*.example.com", "https://example.com/", "https://*.[::1]", "null", "", "https://*."]) {
    assert.equal(parseOriginPattern(p), undefined, p);
  }
});

test("property: every string a pattern allows is a serialized origin whose host is a subdomain (WHATWG URL agrees)", () => {
  const piece = fc.constantFrom("https://", "http://", "evil.com", "a", "-", "_", ".", "#", "?", "\\", "/", "@", ":", "%2e", " ", "*", ".ok.example.com", "ok.example.com", ":443", ":8443", "[::1]", "\t", "é");
  const candidate = fc.oneof(
    fc.array(piece, { maxLength: 8 }).map((ps) => ps.join("")),
    fc.tuple(fc.array(piece, { maxLength: 4 }), fc.constantFrom(".ok.example.com", ".ok.example.com:443")).map(([ps, end]) => "https://" + ps.join("") + end),
    fc.string({ maxLength: 40 }),
  );
  fc.assert(
    fc.property(candidate, (s) => {
      if (!isOriginAllowed(s, ["https://*.ok.example.com"])) return;
      const u = new URL(s);
      assert.equal(u.protocol, "https:", s);
      assert.ok(u.hostname.endsWith(".ok.example.com"), s);
      const lower = s.toLowerCase();
      assert.ok(u.origin === lower || u.origin + ":443" === lower, `${s} is exactly its origin (${u.origin})`);
    }),
    { numRuns: 3000 },
  );
});

test("property: every subdomain of the pattern's host is allowed, in any case and with the default port", () => {
  fc.assert(
    fc.property(fc.domain(), fc.boolean(), fc.boolean(), (d, upper, port) => {
      const o = `https://${upper ? d.toUpperCase() : d}.ok.example.com${port ? ":443" : ""}`;
      assert.equal(isOriginAllowed(o, ["https://*.ok.example.com"]), true, o);
      assert.equal(isOriginAllowed(o, ["http://*.ok.example.com"]), false, o);
    }),
    { numRuns: 500 },
  );
});
