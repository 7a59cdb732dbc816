/**
 * The real ion-sdk-js 1.8.1 (`dist/ion-connector.min.js`, global `Ion`, served by the gateway) in
 * headless Chromium, with a JWT, against stand-in room and SFU nodes on nats-grpc: the SDK's exact
 * join bytes reach the backends, verified claims arrive as metadata, the replies reach the SDK, a bad
 * token is refused with the status the SDK shows, and closing the SDK ends the backend streams.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Page } from "playwright-core";
import { mintToken, parseAuthConfig } from "../../../src/auth/index.js";
import { Peer_Direction, Protocol, RequestSchema as RoomRequestSchema } from "../../../src/gen/ion/room/room_pb.js";
import { RequestSchema as RtcRequestSchema, Target } from "../../../src/gen/ion/rtc/rtc_pb.js";
import { connectNats } from "../../../src/runtime/node/nats-connect.js";
import { startStack, type Stack } from "../../helpers/gateway.js";
import { eventually } from "../../helpers/nats.js";
import { answerFor, startRoomBackend, startRtcBackend, type IonBackend } from "../../helpers/ion-backends.js";
import { launchBrowser, repoRoot, servePages, skipBrowser, type PageServer, type TestBrowser } from "./helpers.js";

const jwtKey = "edge-signal-browser-test-key";
const sid = "ion-room";
const uid = "alice";

/** The protobuf payloads of the grpc-websockets message frames a page sent on `path`, and its header frame. */
async function sentOn(page: Page, path: string): Promise<{ header: string; messages: Uint8Array[] }> {
  const frames = await page.evaluate(() => window.ionTest.frames());
  const mine = frames.filter((f) => new URL(f.url).pathname === path).map((f) => Uint8Array.from(f.bytes));
  assert.ok(mine.length > 0, `the page sent nothing on ${path}`);
  const header = new TextDecoder().decode(mine[0]);
  const messages: Uint8Array[] = [];
  for (const b of mine.slice(1)) {
    if (b[0] !== 0x00) continue; // 0x01 = FINISH_SEND
    const len = new DataView(b.buffer, b.byteOffset + 2, 4).getUint32(0);
    assert.equal(b.length, 6 + len, "one whole message per frame");
    messages.push(b.subarray(6));
  }
  return { header, messages };
}

declare global {
  interface Window {
    ionReady?: boolean;
    ionTest: {
      connect(url: string, token: string): void;
      joinRoom(sid: string, uid: string): void;
      joinRtc(sid: string, uid: string): void;
      rtcPublisher(): { signalingState: string; remote: { type: string; sdp: string } | null } | undefined;
      closeRoom(): void;
      closeConnector(): void;
      frames(): { url: string; bytes: number[] }[];
    };
  }
}

describe("ion-sdk-js 1.8.1 in Chromium through the gateway", { timeout: 300_000, skip: skipBrowser }, () => {
  let stack: Stack;
  let nc: NatsConnection;
  let roomNode: IonBackend;
  let rtcNode: IonBackend;
  let pages: PageServer;
  let browser: TestBrowser;
  let page: Page;
  let token: string;

  before(async () => {
    pages = await servePages({ "/ion.html": { type: "text/html; charset=utf-8", body: await readFile(join(repoRoot, "test/stack/browser/pages/ion-sdk.html")) } });
    stack = await startStack({
      nodes: 0,
      config: {
        signal: { grpc: { host: "127.0.0.1", port: 0 }, jwt: { enabled: true, key_type: "HMAC", key: jwtKey } },
        edge: { allowed_origins: [pages.origin] },
      },
    });
    nc = await connectNats(stack.nats.url, { name: "test-ion-backends" });
    roomNode = await startRoomBackend(nc, stack.nats.url);
    rtcNode = await startRtcBackend(nc, stack.nats.url);
    await stack.waitForNodes(1, "room");
    await stack.waitForNodes(1, "rtc");
    token = await mintToken(parseAuthConfig({ enabled: true, key: jwtKey }), { uid, sid, services: ["room", "rtc"] });
    browser = await launchBrowser();
    page = await openIonPage();
  });

  after(async () => {
    await browser?.close();
    await roomNode?.close();
    await rtcNode?.close();
    await nc?.close();
    await stack?.stop();
    await pages?.close();
  });

  async function openIonPage(): Promise<Page> {
    const p = await browser.open(`${pages.origin}/ion.html?gw=${encodeURIComponent(stack.url)}`);
    await p.waitForFunction(() => window.ionReady === true);
    return p;
  }
  const logOf = (p: Page) => p.locator("#log li").allTextContents();
  const waitLog = (p: Page, prefix: string) =>
    p.waitForFunction((prefix) => [...document.querySelectorAll("#log li")].some((li) => li.textContent!.startsWith(prefix)), prefix);
  const claimsOf = (md: Map<string, string[]>) => ({ uid: md.get("x-ion-uid"), sid: md.get("x-ion-sid"), authorization: md.get("authorization") });

  it("the gateway serves the SDK bundle as UTF-8 JavaScript", async () => {
    const res = await fetch(`${stack.url}/vendor/ion-connector.min.js`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /javascript; charset=utf-8/);
    assert.match(await res.text(), /Connector/);
  });

  it("room join: the SDK's bytes reach the room node with the token's claims, the reply reaches the SDK", async () => {
    await page.evaluate(([url, token, sid, uid]) => {
      window.ionTest.connect(url, token);
      window.ionTest.joinRoom(sid, uid);
    }, [stack.url, token, sid, uid] as const);
    await waitLog(page, "joined ");
    const log = await logOf(page);
    assert.ok(log.indexOf("onopen room") >= 0 && log.indexOf("onopen room") < log.findIndex((l) => l.startsWith("joined ")), log.join("\n"));
    const reply = JSON.parse(log.find((l) => l.startsWith("joined "))!.slice("joined ".length));
    assert.equal(reply.success, true);
    assert.deepEqual({ sid: reply.room.sid, name: reply.room.name }, { sid, name: "edge-room" });

    assert.equal(roomNode.calls.length, 1);
    const call = roomNode.calls[0]!;
    assert.equal(call.method, "room.RoomSignal/Signal");
    assert.deepEqual(claimsOf(call.metadata), { uid: [uid], sid: [sid], authorization: undefined });

    const sent = await sentOn(page, "/room.RoomSignal/Signal");
    assert.ok(sent.header.includes(`authorization: ${token}\r\n`), "the SDK sends the raw token in the first frame");
    assert.equal(sent.messages.length, 1);
    assert.deepEqual(call.requests, sent.messages, "the node got the page's exact bytes");
    const req = fromBinary(RoomRequestSchema, call.requests[0]!);
    assert.equal(req.payload.case, "join");
    const peer = req.payload.case === "join" ? req.payload.value.peer : undefined;
    assert.deepEqual(
      { sid: peer?.sid, uid: peer?.uid, displayName: peer?.displayName, destination: peer?.destination, protocol: peer?.protocol, direction: peer?.direction, vendor: peer?.vendor },
      { sid, uid, displayName: "Alice", destination: "webrtc://ion/alice", protocol: Protocol.WebRTC, direction: Peer_Direction.INCOMING, vendor: "edge-test" },
    );
  });

  it("rtc join: the SDK's offer reaches the SFU node, the SDK applies its answer", async () => {
    await page.evaluate(([sid, uid]) => window.ionTest.joinRtc(sid, uid), [sid, uid] as const);
    await waitLog(page, "onopen rtc");
    await eventually(() => rtcNode.calls[0]?.requests.length, 30_000, "the rtc join request");
    const call = rtcNode.calls[0]!;
    assert.equal(call.method, "rtc.RTC/Signal");
    assert.deepEqual(claimsOf(call.metadata), { uid: [uid], sid: [sid], authorization: undefined });
    const sent = await sentOn(page, "/rtc.RTC/Signal");
    assert.deepEqual(call.requests[0], sent.messages[0], "the node got the page's exact join bytes");
    const req = fromBinary(RtcRequestSchema, call.requests[0]!);
    assert.equal(req.payload.case, "join");
    if (req.payload.case !== "join") return;
    const j = req.payload.value;
    assert.deepEqual({ sid: j.sid, uid: j.uid }, { sid, uid });
    assert.deepEqual({ ...j.config }, { NoPublish: "true", NoSubscribe: "false", NoAutoSubscribe: "true" });
    assert.equal(j.description?.type, "offer");
    assert.equal(j.description?.target, Target.PUBLISHER);
    assert.match(j.description?.sdp ?? "", /^v=0\r\n/);
    // The JoinReply reached the SDK: it applied the node's answer to its publisher connection.
    const pub = await eventually(() => page.evaluate(() => window.ionTest.rtcPublisher()?.remote), 30_000, "the answer applied");
    assert.deepEqual(pub, { type: "answer", sdp: answerFor(j.description!.sdp) });
    assert.ok(!(await logOf(page)).some((l) => l.startsWith("rtc join failed")));
    // Everything the page sent later on this stream (ICE trickles) reached the node, in order.
    await eventually(async () => (await sentOn(page, "/rtc.RTC/Signal")).messages.length === call.requests.length, 30_000, "trickles forwarded");
    assert.deepEqual(call.requests, (await sentOn(page, "/rtc.RTC/Signal")).messages);
  });

  it("closing the SDK ends the backend streams", async () => {
    const roomCall = roomNode.calls[0]!;
    const rtcCall = rtcNode.calls[0]!;
    assert.equal(roomCall.requestsEnded || roomCall.aborted, false, "room stream open before close");
    assert.equal(rtcCall.aborted, false, "rtc stream open before close");

    await page.evaluate(() => window.ionTest.closeRoom()); // FINISH_SEND: a half-close
    await eventually(() => roomCall.requestsEnded, 30_000, "room request stream ended");
    await waitLog(page, "onclose room");
    assert.ok((await logOf(page)).includes(`onclose room {"status":0,"statusMessage":""}`), (await logOf(page)).join("\n"));

    await page.evaluate(() => window.ionTest.closeConnector()); // rtc: WebSocket closed
    await eventually(() => rtcCall.aborted, 30_000, "rtc call cancelled");
    await eventually(() => stack.gw.gateway.stats.inFlight === 0, 30_000, "no call in flight at the gateway");
  });

  it("the example page the gateway serves (web/examples/ion-sdk.html) joins a room, same-origin", async () => {
    const p = await browser.open(`${stack.url}/examples/ion-sdk.html`);
    const before = roomNode.calls.length;
    // A token holds to its room: this one names the room the page joins.
    await p.fill("#token", await mintToken(parseAuthConfig({ enabled: true, key: jwtKey }), { uid, sid: "example-room", services: ["room", "rtc"] }));
    await p.fill("#sid", "example-room");
    await p.click("#join-room");
    await waitLog(p, "joined ");
    const joined = JSON.parse((await logOf(p)).find((l) => l.startsWith("joined "))!.slice("joined ".length));
    assert.deepEqual({ success: joined.success, sid: joined.room.sid }, { success: true, sid: "example-room" });
    assert.equal(roomNode.calls.length, before + 1);
    const call = roomNode.calls[before]!;
    await p.click("#leave");
    await eventually(() => call.requestsEnded, 30_000, "room stream ended by Leave");
    await p.close();
  });

  it("a bad token is refused: the SDK reports UNAUTHENTICATED (16), no node is called", async () => {
    const bad = await mintToken(parseAuthConfig({ enabled: true, key: "not-the-key" }), { uid, sid, services: ["room", "rtc"] });
    const p = await openIonPage();
    const before = roomNode.calls.length;
    await p.evaluate(([url, token, sid, uid]) => {
      window.ionTest.connect(url, token);
      window.ionTest.joinRoom(sid, uid);
    }, [stack.url, bad, sid, uid] as const);
    await waitLog(p, "onclose room");
    const log = await logOf(p);
    const closed = JSON.parse(log.find((l) => l.startsWith("onclose room "))!.slice("onclose room ".length));
    assert.equal(closed.status, 16, log.join("\n"));
    // A trailers-only refusal is one 0x80 frame: improbable takes it as headers first (ION's onopen
    // fires, as against ION's Go server), then reads the status from it at close.
    assert.match(closed.statusMessage, /./, "the refusal says why");
    assert.ok(!log.some((l) => l.startsWith("joined ")));
    assert.equal(roomNode.calls.length, before);
    await p.close();
  });
});
