/**
 * @connectrpc/connect-web in headless Chromium against the gateway: Connect and gRPC-Web transports,
 * unary and server-streaming, from a page on another origin (CORS preflight, exposed headers, error
 * status), and a page on a disallowed origin that must fail without reaching a node.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { startStack, type Stack } from "../../helpers/gateway.js";
import type { CallReport } from "./pages/connect-web.js";
import { bundle, htmlPage, jsType, launchBrowser, repoRoot, servePages, skipBrowser, type PageServer, type TestBrowser } from "./helpers.js";

const kinds = ["connect", "grpc-web"] as const;

describe("connect-web in Chromium (cross-origin)", { timeout: 300_000, skip: skipBrowser }, () => {
  let stack: Stack;
  let browser: TestBrowser;
  let allowed: PageServer;
  let denied: PageServer;
  let page: Page;
  let deniedPage: Page;

  before(async () => {
    const script = await bundle(join(repoRoot, "test/stack/browser/pages/connect-web.ts"));
    const files = { "/": htmlPage("connect-web", ["/connect-web.js"]), "/connect-web.js": { type: jsType, body: script } };
    allowed = await servePages(files);
    denied = await servePages(files);
    stack = await startStack({
      nodes: 2,
      config: { signal: { grpc: { host: "127.0.0.1", port: 0 } }, edge: { allowed_origins: [allowed.origin] } },
    });
    browser = await launchBrowser();
    page = await browser.open(allowed.origin + "/");
    deniedPage = await browser.open(denied.origin + "/");
  });

  after(async () => {
    await browser?.close();
    await stack?.stop();
    await allowed?.close();
    await denied?.close();
  });

  const call = (p: Page, fn: "unary" | "stream", kind: string, message: string, repeat = 1): Promise<CallReport> =>
    p.evaluate(([fn, kind, base, message, repeat]) => {
      const t = window.edgeTest;
      return fn === "unary" ? t.unary(kind as "connect", base as string, message as string) : t.stream(kind as "connect", base as string, message as string, repeat as number);
    }, [fn, kind, stack.url, message, repeat] as const);

  const nids = () => new Set(stack.nodes.map((n) => n.node.nid));
  const totalCalls = () => [...stack.gw.gateway.stats.calls.values()].reduce((a, b) => a + b, 0);

  for (const kind of kinds) {
    it(`${kind}: unary from another origin, response headers readable`, async () => {
      const r = await call(page, "unary", kind, "header:x-room=blue", 1);
      assert.equal(r.ok, true, `${r.code}: ${r.error}\n${browser.logs.join("\n")}`);
      assert.equal(r.messages.length, 1);
      assert.equal(r.messages[0]!.message, "header:x-room=blue");
      assert.ok(nids().has(r.messages[0]!.node), `served by a demo node, got ${r.messages[0]!.node}`);
      // A custom header set by the backend is visible to script only if the gateway exposed it.
      assert.equal(r.headers["x-room"], "blue");
    });

    it(`${kind}: server streaming from another origin`, async () => {
      const r = await call(page, "stream", kind, "tick", 5);
      assert.equal(r.ok, true, `${r.code}: ${r.error}`);
      assert.deepEqual(r.messages.map((m) => m.message), ["tick 0", "tick 1", "tick 2", "tick 3", "tick 4"]);
      assert.equal(new Set(r.messages.map((m) => m.node)).size, 1, "one stream, one node");
    });

    it(`${kind}: a backend error status reaches the page`, async () => {
      const r = await call(page, "unary", kind, "error:5:no such room", 1);
      assert.equal(r.ok, false);
      assert.equal(r.code, "NotFound");
      assert.equal(r.error, "no such room");
      const s = await call(page, "stream", kind, "error:7:go away", 3);
      assert.equal(s.ok, false);
      assert.equal(s.code, "PermissionDenied");
      assert.equal(s.error, "go away");
    });

    it(`${kind}: a disallowed origin is refused before any node is called`, async () => {
      const before = totalCalls();
      const r = await call(deniedPage, "unary", kind, "hello", 1);
      assert.equal(r.ok, false, "the browser must block the call");
      assert.match(r.error ?? "", /fetch/i, "blocked by CORS, not answered by a node");
      const s = await call(deniedPage, "stream", kind, "hello", 2);
      assert.equal(s.ok, false);
      assert.equal(s.messages.length, 0);
      assert.equal(totalCalls(), before, "no call reached the Director");
    });
  }
});
