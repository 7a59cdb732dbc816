/**
 * @improbable-eng/grpc-web's WebSocket transport (what ion-sdk-js uses) in headless Chromium: a bidi
 * stream (demo.v1.EchoService/EchoBidi) through the gateway from a page on another origin, message
 * by message, with half-close, an error status, a client close that must end the backend stream,
 * and a disallowed origin.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Page } from "playwright-core";
import { startStack, type Stack } from "../../helpers/gateway.js";
import { eventually } from "../../helpers/nats.js";
import type { BidiState } from "./pages/grpc-websockets.js";
import { bundle, htmlPage, jsType, launchBrowser, repoRoot, servePages, skipBrowser, type PageServer, type TestBrowser } from "./helpers.js";

describe("improbable grpc-web WebSocket transport in Chromium", { timeout: 300_000, skip: skipBrowser }, () => {
  let stack: Stack;
  let browser: TestBrowser;
  let allowed: PageServer;
  let denied: PageServer;
  let page: Page;

  before(async () => {
    const script = await bundle(join(repoRoot, "test/stack/browser/pages/grpc-websockets.ts"));
    const files = { "/": htmlPage("grpc-websockets", ["/bidi.js"]), "/bidi.js": { type: jsType, body: script } };
    allowed = await servePages(files);
    denied = await servePages(files);
    stack = await startStack({
      nodes: 2,
      config: { signal: { grpc: { host: "127.0.0.1", port: 0 } }, edge: { allowed_origins: [allowed.origin] } },
    });
    browser = await launchBrowser();
    page = await browser.open(allowed.origin + "/");
  });

  after(async () => {
    await browser?.close();
    await stack?.stop();
    await allowed?.close();
    await denied?.close();
  });

  const open = (p: Page, metadata: Record<string, string> = {}) => p.evaluate(([host, md]) => window.edgeBidi.open(host, md), [stack.url, metadata] as const);
  const send = (p: Page, id: number, message: string) => p.evaluate(([id, m]) => window.edgeBidi.send(id, m), [id, message] as const);
  const state = (p: Page, id: number): Promise<BidiState> => p.evaluate((id) => window.edgeBidi.state(id), id);
  const waitMessages = (p: Page, id: number, n: number) =>
    p.waitForFunction(([id, n]) => window.edgeBidi.state(id).messages.length >= n || !!window.edgeBidi.state(id).end, [id, n] as const);
  const waitEnd = (p: Page, id: number) => p.waitForFunction((id) => !!window.edgeBidi.state(id).end, id);
  const backendStreams = () => stack.nodes.reduce((n, { node }) => n + node.server.streamCount, 0);
  const totalCalls = () => [...stack.gw.gateway.stats.calls.values()].reduce((a, b) => a + b, 0);

  it("bidi: one reply per message, interleaved, then half-close ends it OK", async () => {
    const id = await open(page);
    const sent = ["header:x-room=red", "two", "three"];
    for (let i = 0; i < sent.length; i++) {
      await send(page, id, sent[i]!);
      await waitMessages(page, id, i + 1); // the next message goes out only after this reply came back
    }
    assert.equal(backendStreams(), 1, "the stream is open on one node while the browser holds it");
    await page.evaluate((id) => window.edgeBidi.finishSend(id), id);
    await waitEnd(page, id);
    const s = await state(page, id);
    assert.deepEqual(s.messages.map((m) => m.message), sent);
    assert.equal(new Set(s.messages.map((m) => m.node)).size, 1);
    assert.ok(stack.nodes.some(({ node }) => node.nid === s.messages[0]!.node));
    assert.equal(s.headers?.["x-room"], "red", "response headers set by the backend arrive in the header frame");
    assert.deepEqual(s.end && { code: s.end.code, message: s.end.message }, { code: 0, message: "" });
    assert.equal(s.end?.trailers["x-room-trailer"], "red");
    await eventually(() => backendStreams() === 0, 10_000, "backend stream gone");
  });

  it("bidi: a backend error ends the stream with its status and message", async () => {
    const id = await open(page);
    await send(page, id, "fine");
    await waitMessages(page, id, 1);
    await send(page, id, "error:5:room is gone");
    await waitEnd(page, id);
    const s = await state(page, id);
    assert.deepEqual(s.messages.map((m) => m.message), ["fine"]);
    assert.equal(s.end?.code, 5);
    assert.equal(s.end?.message, "room is gone");
  });

  it("bidi: closing the client ends the backend stream", async () => {
    const id = await open(page);
    await send(page, id, "hold");
    await waitMessages(page, id, 1);
    assert.equal(backendStreams(), 1);
    await page.evaluate((id) => window.edgeBidi.close(id), id);
    await eventually(() => backendStreams() === 0, 10_000, "backend stream cancelled after the WebSocket closed");
    await eventually(() => stack.gw.gateway.stats.inFlight === 0, 10_000, "no call in flight at the gateway");
  });

  it("a page on a disallowed origin cannot open the WebSocket", async () => {
    const other = await browser.open(denied.origin + "/");
    const before = totalCalls();
    const id = await open(other);
    await send(other, id, "hello");
    await waitEnd(other, id);
    const s = await state(other, id);
    assert.notEqual(s.end?.code, 0);
    assert.equal(s.headers, undefined);
    assert.equal(s.messages.length, 0);
    assert.equal(totalCalls(), before, "no call reached the Director");
    await other.close();
  });
});
