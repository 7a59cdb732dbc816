// Sticky keys read from a request message: the `message_key` config, the ION defaults checked against
// the compiled proto/ion schemas (the bytes are what ion-sdk-js sends: a join as the first message),
// oneof and empty-field cases, a message that does not parse, and paths that do not resolve.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { createBalancer, DEFAULT_MESSAGE_KEY, messageKeyReader, parseBalancerConfig, parseMessageKey } from "../../src/balancer/index.js";
import { RequestSchema as RoomRequestSchema } from "../../src/gen/ion/room/room_pb.js";
import { RequestSchema as RtcRequestSchema, Target } from "../../src/gen/ion/rtc/rtc_pb.js";
import { schemaRegistry } from "../../src/gateway.js";
import { EchoRequestSchema } from "../../src/gen/demo/v1/echo_pb.js";

const rtcJoin = (sid: string) => toBinary(RtcRequestSchema, create(RtcRequestSchema, { payload: { case: "join", value: { sid, uid: "u", description: { target: Target.PUBLISHER, type: "offer", sdp: "v=0\r\n" } } } }));
const roomJoin = (sid: string) => toBinary(RoomRequestSchema, create(RoomRequestSchema, { payload: { case: "join", value: { peer: { sid, uid: "u" } } } }));
const concat = (...parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((p) => [...p]));

describe("message keys", () => {
  test("ION defaults: rtc.RTC/Signal join.sid and room.RoomSignal/Signal join.peer.sid, read from the SDK's join", () => {
    assert.deepEqual([...DEFAULT_MESSAGE_KEY], [["rtc.RTC/Signal", "join.sid"], ["room.RoomSignal/Signal", "join.peer.sid"]]);
    const b = createBalancer(parseBalancerConfig({ services: { rtc: "sticky", room: "sticky" } }), { schemas: schemaRegistry() });
    assert.equal(b.messageKey("rtc", "rtc.RTC/Signal", rtcJoin("room-1")), "room-1");
    assert.equal(b.messageKey("room", "room.RoomSignal/Signal", roomJoin("room-2")), "room-2");
    // Not a join (an ICE trickle), an empty sid, an empty message: no key.
    const trickle = toBinary(RtcRequestSchema, create(RtcRequestSchema, { payload: { case: "trickle", value: { target: Target.PUBLISHER, init: "{}" } } }));
    assert.equal(b.messageKey("rtc", "rtc.RTC/Signal", trickle), undefined);
    assert.equal(b.messageKey("rtc", "rtc.RTC/Signal", rtcJoin("")), undefined);
    assert.equal(b.messageKey("rtc", "rtc.RTC/Signal", new Uint8Array(0)), undefined);
    // A oneof: the last member on the wire wins (a join followed by a trickle is a trickle).
    assert.equal(b.messageKey("rtc", "rtc.RTC/Signal", concat(rtcJoin("a"), trickle)), undefined);
    assert.equal(b.messageKey("rtc", "rtc.RTC/Signal", concat(trickle, rtcJoin("b"))), "b");
    // Another method of a sticky service, or a service that is not sticky: nothing is read.
    assert.equal(b.messageKey("rtc", "rtc.RTC/Other", rtcJoin("x")), undefined);
    assert.equal(b.messageKey("demo", "rtc.RTC/Signal", rtcJoin("x")), undefined);
  });

  test("waitsForMessage: only when claims and metadata hold no key", () => {
    const b = createBalancer(parseBalancerConfig({ services: { rtc: "sticky" } }), { schemas: schemaRegistry() });
    assert.equal(b.waitsForMessage("rtc", "rtc.RTC/Signal", { metadata: new Map() }), true);
    assert.equal(b.waitsForMessage("rtc", "rtc.RTC/Signal", { metadata: new Map(), claims: { sid: "r" } }), false);
    assert.equal(b.waitsForMessage("rtc", "rtc.RTC/Signal", { metadata: new Map([["x-ion-sid", ["r"]]]) }), false);
    assert.equal(b.waitsForMessage("demo", "demo.v1.EchoService/Echo", { metadata: new Map() }), false);
    // Without schemas the default keys are not read at all.
    assert.equal(createBalancer(parseBalancerConfig({ services: { rtc: "sticky" } })).waitsForMessage("rtc", "rtc.RTC/Signal", { metadata: new Map() }), false);
  });

  test("claim, then metadata, then the message: the message key is the last resort", () => {
    const b = createBalancer(parseBalancerConfig({ services: { rtc: "sticky" } }), { schemas: schemaRegistry() });
    const nodes = ["a", "b", "c", "d"].map((nid) => ({ nid, service: "rtc", dc: "dc1", rpc: { protocol: "nats-grpc", addr: "", params: {} }, extraInfo: {}, source: "discovery" as const, lastSeen: 0 }));
    const pick = (ctx: Parameters<typeof b.pick>[2]) => (b.pick("rtc", nodes, ctx) as { nid: string }).nid;
    for (let i = 0; i < 20; i++) {
      const room = `room-${i}`;
      const byMessage = pick({ metadata: new Map(), messageKey: room });
      assert.equal(pick({ metadata: new Map([["sid", [room]]]) }), byMessage, "metadata sid and message key place alike");
      assert.equal(pick({ metadata: new Map(), claims: { sid: room }, messageKey: "other" }), byMessage, "the claim wins");
    }
  });

  test("a message that does not parse is INVALID_ARGUMENT", () => {
    const r = messageKeyReader(RtcRequestSchema, "join.sid");
    assert.throws(() => r(Uint8Array.of(0x0a, 0x05, 0x01)), (e: unknown) => e instanceof ConnectError && e.code === Code.InvalidArgument && /rtc\.Request/.test(e.rawMessage));
  });

  test("configured paths are checked against the schema at start", () => {
    const schemas = schemaRegistry();
    const build = (message_key: Record<string, string>) => createBalancer(parseBalancerConfig({ services: { rtc: { strategy: "sticky", message_key } } }), { schemas });
    assert.throws(() => build({ "rtc.RTC/Signal": "join.nope" }), /rtc\.RTC\/Signal "join\.nope": rtc\.JoinRequest has no field "nope"/);
    assert.throws(() => build({ "rtc.RTC/Signal": "join.sid.x" }), /not a message field/);
    assert.throws(() => build({ "rtc.RTC/Signal": "join" }), /not a string or integer field/);
    assert.throws(() => build({ "nope.Svc/Signal": "join.sid" }), /no schema for nope\.Svc\/Signal/);
    // A configured key for another method works; `{}` turns message keys off.
    const demo = build({ "/demo.v1.EchoService/Echo": "message" });
    assert.equal(demo.messageKey("rtc", "demo.v1.EchoService/Echo", toBinary(EchoRequestSchema, create(EchoRequestSchema, { message: "k" }))), "k");
    assert.equal(demo.messageKey("rtc", "rtc.RTC/Signal", rtcJoin("x")), undefined);
    assert.equal(build({}).waitsForMessage("rtc", "rtc.RTC/Signal", { metadata: new Map() }), false);
  });

  test("config: message_key and first_message_timeout_ms", () => {
    const c = parseBalancerConfig({ first_message_timeout_ms: 2500, services: { rtc: { strategy: "sticky", messageKey: { "rtc.RTC/Signal": "join.uid" } } } });
    assert.equal(c.firstMessageTimeoutMs, 2500);
    assert.deepEqual([...c.services.get("rtc")!.messageKey], [["rtc.RTC/Signal", "join.uid"]]);
    assert.equal(parseBalancerConfig({}).firstMessageTimeoutMs, 10_000);
    assert.throws(() => parseMessageKey({ "not a method": "a" }, "x"), /not a method name/);
    assert.throws(() => parseMessageKey({ "a.B/C": "a..b" }, "x"), /dotted field path/);
    assert.throws(() => parseMessageKey({ "a.B/C": 1 }, "x"), /dotted field path/);
    assert.throws(() => parseBalancerConfig({ services: { rtc: { strategy: "p2c", message_key: {} } } }), /only sticky services take a key/);
  });
});
