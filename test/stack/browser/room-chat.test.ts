/**
 * The node SDK end to end: the example room node (examples/room-node.ts, written with
 * `edge-signal/node`) serves ION's room.RoomSignal over nats-grpc; two pages in headless Chromium,
 * each with the real ion-sdk-js 1.8.1 `Room` and its own JWT, join one room through the gateway and
 * exchange chat messages: to everyone else, and to one peer by uid. The node also refuses a join
 * whose uid differs from the token's.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Page } from "playwright-core";
import { startRoomNode } from "../../../examples/room-node.js";
import { mintToken, parseAuthConfig } from "../../../src/auth/index.js";
import { connectNats } from "../../../src/runtime/node/nats-connect.js";
import type { RunningNode } from "../../../src/node/index.js";
import { startStack, type Stack } from "../../helpers/gateway.js";
import { launchBrowser, repoRoot, servePages, skipBrowser, type PageServer, type TestBrowser } from "./helpers.js";

const jwtKey = "edge-signal-room-chat-key";
const sid = "chat-room";

interface Got {
  joined: { success: boolean; error?: { errType: number; reason: string }; room?: { sid: string } } | null;
  messages: { from: string; to: string; type: string; text: string }[];
  peers: { uid: string; state: number }[];
  errors: string[];
}

declare global {
  interface Window {
    chatReady?: boolean;
    chat: {
      join(url: string, token: string, sid: string, uid: string): void;
      send(to: string, text: string): Promise<void>;
      got(): Got;
    };
  }
}

describe("two ion-sdk-js Rooms chat through the gateway and the example room node", { timeout: 300_000, skip: skipBrowser }, () => {
  let stack: Stack;
  let nc: NatsConnection;
  let node: RunningNode;
  let pages: PageServer;
  let browser: TestBrowser;

  before(async () => {
    pages = await servePages({ "/chat.html": { type: "text/html; charset=utf-8", body: await readFile(join(repoRoot, "test/stack/browser/pages/ion-room-chat.html")) } });
    stack = await startStack({
      nodes: 0,
      config: {
        signal: { grpc: { host: "127.0.0.1", port: 0 }, jwt: { enabled: true, key_type: "HMAC", key: jwtKey } },
        edge: { allowed_origins: [pages.origin] },
      },
    });
    nc = await connectNats(stack.nats.url, { name: "room-example-node" });
    node = await startRoomNode(nc, { natsUrl: stack.nats.url });
    await stack.waitForNodes(1, "room");
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await node?.close();
    await nc?.close();
    await stack?.stop();
    await pages?.close();
  });

  const tokenFor = (uid: string) => mintToken(parseAuthConfig({ enabled: true, key: jwtKey }), { uid, sid, services: ["room"] });
  const got = (p: Page) => p.evaluate(() => window.chat.got());
  /** Waits (Playwright's deadline, 60 s) until the page's SDK state satisfies `pred`. */
  const until = (p: Page, pred: string) => p.waitForFunction(`(() => { const g = window.chat.got(); return ${pred}; })()`);

  async function joined(uid: string, tokenUid = uid): Promise<Page> {
    const page = await browser.open(`${pages.origin}/chat.html?gw=${encodeURIComponent(stack.url)}`);
    await page.waitForFunction(() => window.chatReady === true);
    await page.evaluate(([url, token, sid, uid]) => window.chat.join(url, token, sid, uid), [stack.url, await tokenFor(tokenUid), sid, uid] as const);
    await until(page, "g.joined !== null || g.errors.length > 0");
    return page;
  }

  it("alice and bob join, see each other, and exchange messages", async () => {
    const alice = await joined("alice");
    const bob = await joined("bob");
    for (const p of [alice, bob]) {
      const j = (await got(p)).joined;
      assert.deepEqual({ success: j?.success, sid: j?.room?.sid, error: j?.error?.errType }, { success: true, sid, error: 0 }, JSON.stringify(j));
    }

    // Each learns of the other: alice hears bob join; bob is told alice is there.
    await until(alice, 'g.peers.some((p) => p.uid === "bob")');
    await until(bob, 'g.peers.some((p) => p.uid === "alice")');

    await alice.evaluate(() => window.chat.send("all", "hello bob"));
    await until(bob, "g.messages.length > 0");
    assert.deepEqual((await got(bob)).messages, [{ from: "alice", to: "all", type: "text/plain", text: JSON.stringify({ text: "hello bob" }) }]);

    await bob.evaluate(() => window.chat.send("alice", "hi alice"));
    await until(alice, "g.messages.length > 0");
    assert.deepEqual((await got(alice)).messages, [{ from: "bob", to: "alice", type: "text/plain", text: JSON.stringify({ text: "hi alice" }) }]);
    // Each message went to the others only: the sender did not get its own back (bob's reply above
    // came after alice's send, on the same ordered stream, so alice would have it by now).
    assert.equal((await got(bob)).messages.length, 1);
    assert.deepEqual([...(await got(alice)).errors, ...(await got(bob)).errors], [], browser.logs.join("\n"));
    await alice.close();
    await bob.close();
  });

  it("a join as another user than the token's is refused by the node", async () => {
    const mallory = await joined("alice", "mallory");
    const g = await got(mallory);
    // ErrorType.PermissionDenied = 2 (proto/ion/room/room.proto), with the node's reason.
    assert.deepEqual({ success: g.joined?.success, error: g.joined?.error }, { success: false, error: { errType: 2, reason: "peer.uid differs from the token's uid" } }, JSON.stringify(g));
    await mallory.close();
  });
});
