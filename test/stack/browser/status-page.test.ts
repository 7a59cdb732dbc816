/**
 * The status page (web/ → web/dist, served by the gateway at `/`) in headless Chromium: live nodes per
 * service, call figures, the "try it" panel over Connect and gRPC-Web, the token form when the API
 * answers 401, and a screenshot (test-results/status-page.png; `UPDATE_SCREENSHOT=1` also copies it to
 * docs/status-page.png for the README).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import type { Page } from "playwright-core";
import { mintToken, parseAuthConfig } from "../../../src/auth/index.js";
import { startStack, type Stack } from "../../helpers/gateway.js";
import { create, toBinary } from "@bufbuild/protobuf";
import { RequestSchema as RtcRequestSchema } from "../../../src/gen/ion/rtc/rtc_pb.js";
import { connectNats } from "../../../src/runtime/node/nats-connect.js";
import { eventually } from "../../helpers/nats.js";
import { WsCall } from "../../helpers/grpc-websockets-client.js";
import { startRtcBackend } from "../../helpers/ion-backends.js";
import { launchBrowser, repoRoot, resultsDir, skipBrowser, type TestBrowser } from "./helpers.js";

const jwtKey = "status-page-test-key";

/** `n` Connect JSON calls to demo.v1.EchoService/Echo, `gapMs` apart; every `errorEvery`th fails. */
async function traffic(url: string, n: number, gapMs: number, errorEvery = 0): Promise<void> {
  for (let i = 0; i < n; i++) {
    const message = errorEvery && i % errorEvery === errorEvery - 1 ? "error:14:node busy" : `load ${i}`;
    await fetch(`${url}/demo.v1.EchoService/Echo`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ message }) }).then((r) => r.arrayBuffer());
    await new Promise((r) => setTimeout(r, gapMs));
  }
}

describe("status page", { timeout: 300_000, skip: skipBrowser }, () => {
  let stack: Stack;
  let secured: Stack;
  let browser: TestBrowser;
  let page: Page;

  before(async () => {
    // Test the current sources: build web/dist (a fraction of a second).
    await promisify(execFile)(process.execPath, [join(repoRoot, "scripts/build-web.mjs"), "--quiet"]);
    stack = await startStack({ nodes: 2 });
    await stack.addNode({ dc: "dc2", load: 0.42 });
    await stack.waitForNodes(3);
    browser = await launchBrowser();
    page = await browser.open(stack.url + "/");
  });

  after(async () => {
    await browser?.close();
    await stack?.stop();
    await secured?.stop();
  });

  /** Rows of the demo service (the gateway lists itself too, under `signal`). */
  const rows = (p: Page) => p.locator('#nodes section[data-service="demo"] tr[data-nid]');

  it("lists the live nodes of each service", async () => {
    await page.locator('#state[data-state="live"]').waitFor();
    await page.waitForFunction(() => document.querySelectorAll('#nodes section[data-service="demo"] tr[data-nid]').length === 3);
    const nids = await rows(page).evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-nid")));
    assert.deepEqual(nids.sort(), stack.nodes.map((n) => n.node.nid).sort());
    const third = stack.nodes[2]!.node.nid;
    const cells = await page.locator(`#nodes tr[data-nid="${third}"] td`).allTextContents();
    assert.deepEqual([cells[0], cells[1], cells[2], cells[4], cells[6]], [third, "dc2", "discovery", "0.4", "serving"]);
    assert.equal(await page.locator('#nodes section[data-service="demo"] h3').textContent(), "demo 3/3 serving");
    assert.equal(await page.locator("#gateway").textContent(), `gateway ${stack.gw.gateway.nid}`);
    // The gateway registers itself in discovery (service `signal`, as ION's signal does).
    await page.locator(`#nodes section[data-service="signal"] tr[data-nid="${stack.gw.gateway.nid}"]`).waitFor();
    assert.equal(await page.locator("#token-form").isHidden(), true);
  });

  it("a node that leaves disappears from the page", async () => {
    const extra = await stack.addNode({ dc: "dc3" });
    await page.locator(`#nodes tr[data-nid="${extra.nid}"]`).waitFor();
    await extra.close();
    await page.locator(`#nodes tr[data-nid="${extra.nid}"]`).waitFor({ state: "detached" });
    assert.equal(await rows(page).count(), 3);
  });

  it("try it: Echo over Connect, EchoStream over gRPC-Web, errors shown with their code", async () => {
    await page.fill("#try-message", "hi from the page");
    await page.click("#try-unary");
    await page.locator('#try-status[data-code="ok"]').waitFor();
    assert.match((await page.locator("#try-status").textContent())!, /^OK · 1 message · .* ms · Connect$/);
    const unary = await page.locator("#try-output li").allTextContents();
    assert.equal(unary.length, 1);
    const served = stack.nodes.map((n) => n.node.nid).find((nid) => unary[0]!.startsWith(nid));
    assert.ok(served, `a node id leads the line: ${unary[0]}`);
    assert.equal(unary[0], `${served} hi from the page`);

    await page.check('input[name="transport"][value="grpc-web"]');
    await page.fill("#try-message", "tick");
    await page.fill("#try-repeat", "4");
    await page.click("#try-stream");
    await page.locator('#try-status[data-code="ok"]').waitFor();
    assert.match((await page.locator("#try-status").textContent())!, /^OK · 4 messages · .* ms · gRPC-Web$/);
    const lines = await page.locator("#try-output li").allTextContents();
    assert.deepEqual(lines.map((l) => l.slice(l.indexOf(" ") + 1)), ["tick 0", "tick 1", "tick 2", "tick 3"]);

    await page.fill("#try-message", "error:5:no such thing");
    await page.click("#try-unary");
    await page.locator('#try-status[data-code="NotFound"]').waitFor();
    assert.match((await page.locator("#try-status").textContent())!, /^NotFound: no such thing · after 0 messages · gRPC-Web$/);
  });

  it("shows call rate and latency per service", async () => {
    const before = stack.gw.gateway.stats.services().find((s) => s.service === "demo")?.total ?? 0;
    await traffic(stack.url, 20, 25);
    const expected = before + 20;
    await page.waitForFunction(
      (n) => Number(document.querySelector('#stats tr[data-service="demo"] td:last-child')?.textContent?.replace(/,/g, "")) >= n,
      expected,
    );
    const cells = await page.locator('#stats tr[data-service="demo"] td').allTextContents();
    assert.equal(cells[0], "demo");
    assert.notEqual(cells[3], "0", "a 1-minute rate");
    assert.match(cells[5]!, /ms|s$/, "an average latency");
    assert.match(cells[7]!, /ms|s$/, "a p99 latency");
  });

  it("lists live rooms: room, service, node, open calls", async () => {
    const nc = await connectNats(stack.nats.url, { name: "test-status-rtc" });
    const sfu = await startRtcBackend(nc, stack.nats.url);
    const open: WsCall[] = [];
    try {
      await stack.waitForNodes(1, "rtc");
      // Two ion-sdk-js-shaped joins of one room (the room is only in the join): one row, 2 calls.
      const join = (uid: string) => toBinary(RtcRequestSchema, create(RtcRequestSchema, { payload: { case: "join", value: { sid: "lobby", uid } } }));
      for (const uid of ["a", "b"]) {
        const c = await new WsCall(stack.wsUrl + "/rtc.RTC/Signal").start({}, [join(uid)]);
        await c.waitData(1);
        open.push(c);
      }
      const row = page.locator('#rooms tr[data-room="lobby"][data-service="rtc"]');
      await row.waitFor();
      await page.waitForFunction(() => document.querySelector('#rooms tr[data-room="lobby"] td:nth-child(4)')?.textContent === "2");
      const cells = await row.locator("td").allTextContents();
      assert.deepEqual(cells.slice(0, 4), ["lobby", "rtc", sfu.nid, "2"]);
      assert.equal(cells[5], stack.gw.gateway.nid);
      for (const c of open) c.close();
      await row.waitFor({ state: "detached" });
    } finally {
      for (const c of open) c.close();
      await eventually(() => stack.gw.gateway.director.inFlight === 0, 20_000, "rtc calls over");
      await sfu.close();
      await nc.close();
    }
  });

  it("screenshot with live nodes", async () => {
    await page.fill("#try-message", "hello edge");
    await page.fill("#try-repeat", "3");
    await page.check('input[name="transport"][value="connect"]');
    // A few seconds of calls at changing rates, still running when the picture is taken: the
    // sparkline has a shape and "now" is not zero.
    const load = (async () => {
      await traffic(stack.url, 60, 20, 20);
      await traffic(stack.url, 20, 150);
      await traffic(stack.url, 100, 10, 25);
    })();
    await page.click("#try-stream");
    await page.locator('#try-status[data-code="ok"]').waitFor();
    await page.waitForTimeout(7000);
    await mkdir(resultsDir, { recursive: true });
    const file = join(resultsDir, "status-page.png");
    await page.screenshot({ path: file, fullPage: true });
    if (process.env.UPDATE_SCREENSHOT === "1") {
      await mkdir(join(repoRoot, "docs"), { recursive: true });
      await copyFile(file, join(repoRoot, "docs", "status-page.png"));
    }
    await load;
    assert.equal(await rows(page).count(), 3, "the screenshot shows the live nodes");
  });

  it("asks for a token when the API answers 401, then works with it", async () => {
    secured = await startStack({
      nodes: 1,
      config: { signal: { grpc: { host: "127.0.0.1", port: 0 }, jwt: { enabled: true, key: jwtKey } } },
    });
    const auth = parseAuthConfig({ enabled: true, key: jwtKey });
    const p = await browser.open(secured.url + "/");
    await p.locator("#token-form").waitFor({ state: "visible" });
    await p.locator('#state[data-state="token"]').waitFor();
    assert.match((await p.locator("#token-message").textContent())!, /wants a token/);

    // A token signed with another key is still refused.
    await p.fill("#token-input", await mintToken(parseAuthConfig({ enabled: true, key: "wrong" }), { uid: "ops", services: ["edge", "demo"] }));
    await p.click('#token-form button[type="submit"]');
    await p.waitForTimeout(500);
    await p.locator('#state[data-state="token"]').waitFor();

    await p.fill("#token-input", "Bearer " + (await mintToken(auth, { uid: "ops", services: ["edge", "demo"] })));
    await p.click('#token-form button[type="submit"]');
    await p.locator('#state[data-state="live"]').waitFor();
    await p.locator(`#nodes tr[data-nid="${secured.nodes[0]!.node.nid}"]`).waitFor();
    assert.equal(await p.locator("#token-form").isHidden(), true);

    // The "try it" panel sends the same token.
    await p.fill("#try-message", "with a token");
    await p.click("#try-unary");
    await p.locator('#try-status[data-code="ok"]').waitFor();
    await p.close();
  });
});
