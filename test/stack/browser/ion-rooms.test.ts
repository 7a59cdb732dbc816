/**
 * ION rooms stay whole with the real ion-sdk-js 1.8.1 in Chromium: several rooms, two SDK clients
 * (pages) each, two TS nodes per ION service (rtc.RTC and room.RoomSignal). With JWT off (ION's
 * default: the SDK sends no room metadata, the room is only in its join) every room's calls reach one
 * rtc node and one room node; the same with JWT on, each room's two clients through different
 * gateways; and a token for room X joining room Y is refused PERMISSION_DENIED (7) with no node called.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Page } from "playwright-core";
import { mintToken, parseAuthConfig } from "../../../src/auth/index.js";
import { RequestSchema as RoomRequestSchema } from "../../../src/gen/ion/room/room_pb.js";
import { RequestSchema as RtcRequestSchema } from "../../../src/gen/ion/rtc/rtc_pb.js";
import { connectNats } from "../../../src/runtime/node/nats-connect.js";
import { startStack, type Stack } from "../../helpers/gateway.js";
import { eventually } from "../../helpers/nats.js";
import { startRoomBackend, startRtcBackend, type IonBackend } from "../../helpers/ion-backends.js";
import { launchBrowser, repoRoot, servePages, skipBrowser, type PageServer, type TestBrowser } from "./helpers.js";

const jwtKey = "edge-signal-browser-rooms-key";
const ROOMS = 3;

/** The room (`sid`) and peer (`uid`) of a recorded call's join, or undefined when its first message is not a join. */
function joinOf(node: IonBackend, i: number): { sid: string; uid: string } | undefined {
  const first = node.calls[i]?.requests[0];
  if (first === undefined) return undefined;
  if (node.nid.startsWith("sfu-")) {
    const r = fromBinary(RtcRequestSchema, first);
    return r.payload.case === "join" ? { sid: r.payload.value.sid, uid: r.payload.value.uid } : undefined;
  }
  const r = fromBinary(RoomRequestSchema, first);
  return r.payload.case === "join" ? { sid: r.payload.value.peer?.sid ?? "", uid: r.payload.value.peer?.uid ?? "" } : undefined;
}

/** For each room: the nodes of `nodes` that got a join of it, and from which peers. */
function placement(nodes: IonBackend[]): Map<string, { nodes: Set<string>; peers: Set<string> }> {
  const out = new Map<string, { nodes: Set<string>; peers: Set<string> }>();
  for (const n of nodes) {
    for (let i = 0; i < n.calls.length; i++) {
      const j = joinOf(n, i);
      if (!j) continue;
      const e = out.get(j.sid) ?? { nodes: new Set(), peers: new Set() };
      e.nodes.add(n.nid);
      e.peers.add(j.uid);
      out.set(j.sid, e);
    }
  }
  return out;
}

interface IonNodes {
  nc: NatsConnection;
  rtc: IonBackend[];
  room: IonBackend[];
}

describe("ion-sdk-js rooms in Chromium, two nodes per service", { timeout: 600_000, skip: skipBrowser }, () => {
  let pages: PageServer;
  let browser: TestBrowser;

  before(async () => {
    pages = await servePages({ "/ion.html": { type: "text/html; charset=utf-8", body: await readFile(join(repoRoot, "test/stack/browser/pages/ion-sdk.html")) } });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await pages?.close();
  });

  async function startIon(jwt: boolean): Promise<{ stack: Stack; ion: IonNodes; stop(): Promise<void> }> {
    const stack = await startStack({
      nodes: 0,
      gateways: 2,
      jetstream: true,
      config: {
        signal: { grpc: { host: "127.0.0.1", port: 0 }, ...(jwt ? { jwt: { enabled: true, key_type: "HMAC", key: jwtKey } } : {}) },
        edge: { allowed_origins: [pages.origin] },
      },
    });
    const nc = await connectNats(stack.nats.url, { name: "test-ion-rooms-nodes" });
    const ion: IonNodes = {
      nc,
      rtc: [await startRtcBackend(nc, stack.nats.url), await startRtcBackend(nc, stack.nats.url)],
      room: [await startRoomBackend(nc, stack.nats.url), await startRoomBackend(nc, stack.nats.url)],
    };
    await stack.waitForNodes(2, "rtc");
    await stack.waitForNodes(2, "room");
    return {
      stack,
      ion,
      async stop() {
        for (const b of [...ion.rtc, ...ion.room]) await b.close();
        await nc.close();
        await stack.stop();
      },
    };
  }

  /** Opens an SDK page on gateway `gw`, joins room and rtc of `sid` as `uid`; resolves once both joins are answered. */
  async function joinPage(gw: string, sid: string, uid: string, token = ""): Promise<Page> {
    const p = await browser.open(`${pages.origin}/ion.html?gw=${encodeURIComponent(gw)}`);
    await p.waitForFunction(() => window.ionReady === true);
    await p.evaluate(([url, token, sid, uid]) => {
      window.ionTest.connect(url, token);
      window.ionTest.joinRoom(sid, uid);
      window.ionTest.joinRtc(sid, uid);
    }, [gw, token, sid, uid] as const);
    await p.waitForFunction(() => [...document.querySelectorAll("#log li")].some((li) => li.textContent!.startsWith("joined ")));
    await eventually(() => p.evaluate(() => window.ionTest.rtcPublisher()?.remote?.type), 60_000, `${uid}: the SFU's answer applied`);
    return p;
  }

  /** Every room in `rooms` had its joins from both peers on exactly one node of each service. */
  function assertWhole(ion: IonNodes, rooms: string[]): void {
    for (const [service, nodes] of [["rtc", ion.rtc], ["room", ion.room]] as const) {
      const placed = placement(nodes);
      const spread = new Map<string, number>();
      for (const sid of rooms) {
        const e = placed.get(sid);
        assert.ok(e, `${service}: no join of ${sid} reached a node`);
        assert.deepEqual([...e.peers].sort(), [`${sid}-a`, `${sid}-b`], `${service} ${sid}: both peers' joins arrived`);
        assert.equal(e.nodes.size, 1, `${service} ${sid}: split over ${[...e.nodes].join(", ")}`);
        const nid = [...e.nodes][0]!;
        spread.set(nid, (spread.get(nid) ?? 0) + 1);
      }
      console.log(`# ${service}: rooms per node ${JSON.stringify(Object.fromEntries(spread))}`);
    }
  }

  it(`JWT off (ION's default), both peers through one gateway: each of ${ROOMS} rooms on one rtc node and one room node`, async () => {
    const s = await startIon(false);
    const open: Page[] = [];
    try {
      const rooms = Array.from({ length: ROOMS }, (_, i) => `open-room-${i}`);
      for (const sid of rooms) for (const peer of ["a", "b"]) open.push(await joinPage(s.stack.url, sid, `${sid}-${peer}`));
      assertWhole(s.ion, rooms);
    } finally {
      for (const p of open) await p.close();
      await s.stop();
    }
  });

  it(`JWT on, each room's two peers through different gateways: each of ${ROOMS} rooms on one node per service; room X's token cannot join room Y`, async () => {
    const s = await startIon(true);
    const open: Page[] = [];
    const token = (sid: string, uid: string) => mintToken(parseAuthConfig({ enabled: true, key: jwtKey }), { uid, sid, services: ["room", "rtc"] });
    try {
      const rooms = Array.from({ length: ROOMS }, (_, i) => `jwt-room-${i}`);
      for (const sid of rooms) {
        open.push(await joinPage(s.stack.gateways[0]!.url, sid, `${sid}-a`, await token(sid, `${sid}-a`)));
        open.push(await joinPage(s.stack.gateways[1]!.url, sid, `${sid}-b`, await token(sid, `${sid}-b`)));
      }
      assertWhole(s.ion, rooms);

      // A token for room X, the SDK joining room Y: status 7 on both streams, nothing reaches a node.
      const before = [...s.ion.rtc, ...s.ion.room].map((n) => n.calls.length);
      const p = await browser.open(`${pages.origin}/ion.html?gw=${encodeURIComponent(s.stack.url)}`);
      open.push(p);
      await p.waitForFunction(() => window.ionReady === true);
      await p.evaluate(([url, token]) => {
        window.ionTest.connect(url, token);
        window.ionTest.joinRoom("room-y", "mallory");
        window.ionTest.joinRtc("room-y", "mallory");
      }, [s.stack.url, await token("room-x", "mallory")] as const);
      for (const service of ["room", "rtc"]) {
        await p.waitForFunction((svc) => [...document.querySelectorAll("#log li")].some((li) => li.textContent!.startsWith(`onclose ${svc} `)), service);
      }
      const log = await p.locator("#log li").allTextContents();
      for (const service of ["room", "rtc"]) {
        const closed = JSON.parse(log.find((l) => l.startsWith(`onclose ${service} `))!.slice(`onclose ${service} `.length));
        assert.equal(closed.status, 7, `${service}: ${log.join("\n")}`);
        assert.match(closed.statusMessage, /token is for another room/);
      }
      assert.ok(!log.some((l) => l.startsWith("joined ")), log.join("\n"));
      assert.deepEqual([...s.ion.rtc, ...s.ion.room].map((n) => n.calls.length), before, "no node was called");
    } finally {
      for (const p of open) await p.close();
      await s.stop();
    }
  });
});
