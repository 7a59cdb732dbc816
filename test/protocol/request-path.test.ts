/**
 * The method path of a request URL (src/protocol/request-path.ts), and origin patterns
 * (src/protocol/origin.ts; the rest of origin matching is in origin.test.ts).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { requestPath, isOriginAllowed } from "../../src/protocol/index.js";

test("requestPath and origin patterns", () => {
  assert.equal(requestPath("http://h:1/pkg.S/M?x=1#f"), "/pkg.S/M");
  assert.equal(requestPath("https://h"), "/");
  assert.equal(isOriginAllowed("https://A.example.com", ["https://*.example.com"]), true);
  assert.equal(isOriginAllowed("https://a.b.example.com", ["https://*.example.com"]), true);
  assert.equal(isOriginAllowed("http://a.example.com", ["https://*.example.com"]), false);
  assert.equal(isOriginAllowed("https://evil.com/.example.com", ["https://*.example.com"]), false);
  assert.equal(isOriginAllowed("https://x.test", ["https://x.test"]), true);
  assert.equal(isOriginAllowed("https://x.test", []), false);
});
