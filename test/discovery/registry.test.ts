/** The registry against a real nats-server, driven with the Go golden bytes (what a Go node sends). */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import type { Msg, NatsConnection } from "@nats-io/nats-core";
import { startNatsServer, type NatsServer } from "../../src/cli/nats-server.js";
import {
  decodeGetResponse,
  decodeRequest,
  decodeResponse,
  DiscoveryClient,
  encodeRequest,
  startRegistry,
  type DiscoveryNode,
  type Registry,
} from "../../src/discovery/index.js";
import { eventually, tcp } from "../helpers/nats.js";
import { fromHex, recordingLog, sleep, toHex } from "./helpers.js";

const vectors: { name: string; hex: string }[] = JSON.parse(readFileSync(new URL("../fixtures/discovery-gob-vectors.json", import.meta.url), "utf8")).vectors;
const vec = (name: string) => fromHex(vectors.find((v) => v.name === name)!.hex);

const rtcNode: DiscoveryNode = { DC: "dc1", Service: "rtc", NID: "sfu-AbC123", RPC: { Protocol: "nats-grpc", Addr: "nats://127.0.0.1:4222", Params: null }, ExtraInfo: null };

describe("registry (wire-compatible with Go nodes)", () => {
  let server: NatsServer;
  let regConn: NatsConnection;
  let nodeConn: NatsConnection;
  let watchConn: NatsConnection;
  let registry: Registry;
  const events: Msg[] = [];
  const log = recordingLog();
  const params: Record<string, unknown>[] = [];

  before(async () => {
    server = await startNatsServer();
    [regConn, nodeConn, watchConn] = await Promise.all([tcp(server, "registry"), tcp(server, "node"), tcp(server, "watch")]);
    registry = await startRegistry(regConn, {
      expireMs: 1000,
      checkMs: 100,
      log,
      onAction: (action, node) => (node.NID === "evil-1" ? "nid not allowed" : action === "update" && node.NID === "grumpy-1" ? false : true),
      onGet: (service, p, nodes) => {
        params.push(p);
        return nodes.filter((n) => service === "*" || n.Service === service);
      },
    });
    watchConn.subscribe("node.discovery.>", { callback: (_e, m) => void events.push(m) });
    await watchConn.flush();
  });

  after(async () => {
    await registry.stop();
    await Promise.all([regConn.close(), nodeConn.close(), watchConn.close()]);
    await server.stop();
  });

  it("save (Go bytes) → Response ok (Go bytes) and the raw bytes republished", async () => {
    events.length = 0;
    const reply = await nodeConn.request("node.publish.rtc.dc1.sfu-AbC123", vec("request-save"), { timeout: 2000 });
    equal(toHex(reply.data), toHex(vec("response-ok")), "reply is byte-identical to Go's Response{Success:true}");
    await eventually(() => events.length === 1, 1000, "republished save");
    equal(events[0]!.subject, "node.discovery.rtc.dc1.sfu-AbC123");
    equal(toHex(events[0]!.data), toHex(vec("request-save")));
    deepStrictEqual(registry.nodes().map((n) => n.nid), ["sfu-AbC123"]);
  });

  it("save of a known node: ok, nothing republished", async () => {
    events.length = 0;
    const reply = await nodeConn.request("node.publish.rtc.dc1.sfu-AbC123", vec("request-save"), { timeout: 2000 });
    ok(decodeResponse(reply.data).Success);
    await watchConn.flush();
    await regConn.flush();
    await sleep(50);
    equal(events.length, 0);
  });

  it("get (Go bytes, subject node.publish.* and node.publish.rtc) → GetResponse with the node", async () => {
    const all = await nodeConn.request("node.publish.*", vec("request-get-all"), { timeout: 2000 });
    deepStrictEqual(decodeGetResponse(all.data).Nodes, [rtcNode]);
    const rtc = await nodeConn.request("node.publish.rtc", vec("request-get-rtc-sid"), { timeout: 2000 });
    deepStrictEqual(decodeGetResponse(rtc.data).Nodes, [rtcNode]);
    deepStrictEqual(params.at(-1), { sid: "room1" }, "params reach the selection callback");
    const none = await nodeConn.request("node.publish.room", encodeRequest({ Action: "get", Service: "room" }), { timeout: 2000 });
    equal(decodeGetResponse(none.data).Nodes, null);
  });

  it("the TS client's get('*') and get(service, params) reach it (nats.js sends the literal *)", async () => {
    const client = new DiscoveryClient(nodeConn, { requestTimeoutMs: 2000 });
    deepStrictEqual((await client.get("*")).map((n) => n.nid), ["sfu-AbC123"]);
    deepStrictEqual((await client.get("rtc", { sid: "room9", uid: "u1" })).map((n) => n.nid), ["sfu-AbC123"]);
    deepStrictEqual(params.at(-1), { sid: "room9", uid: "u1" });
  });

  it("delete (Go bytes) → raw bytes republished, node gone", async () => {
    events.length = 0;
    const reply = await nodeConn.request("node.publish.rtc.dc1.sfu-AbC123", vec("request-delete"), { timeout: 2000 });
    ok(decodeResponse(reply.data).Success);
    await eventually(() => events.length === 1, 1000, "republished delete");
    equal(toHex(events[0]!.data), toHex(vec("request-delete")));
    equal(registry.nodes().length, 0);
    // Delete of an unknown node: ok, no event.
    ok(decodeResponse((await nodeConn.request("node.publish.rtc.dc1.sfu-AbC123", vec("request-delete"), { timeout: 2000 })).data).Success);
  });

  it("update of an unknown node acts as save and republishes bytes that still say update", async () => {
    events.length = 0;
    const reply = await nodeConn.request("node.publish.rtc.dc1.sfu-AbC123", vec("request-update"), { timeout: 2000 });
    ok(decodeResponse(reply.data).Success);
    await eventually(() => events.length === 1, 1000, "republished update");
    equal(toHex(events[0]!.data), toHex(vec("request-update")));
  });

  it("expires a silent node with a fresh gob delete on node.discovery", async () => {
    events.length = 0;
    const ev = await eventually(() => events.find((m) => decodeRequest(m.data).Action === "delete"), 3000, "expiry delete");
    equal(ev.subject, "node.discovery.rtc.dc1.sfu-AbC123");
    deepStrictEqual(decodeRequest(ev.data).Node, rtcNode);
    equal(toHex(ev.data), toHex(vec("request-delete")), "the registry's own encoding equals Go's");
    equal(registry.nodes().length, 0);
  });

  it("updates keep a node alive past the expiry", async () => {
    const n = { ...rtcNode, NID: "sfu-live01" };
    ok(decodeResponse((await nodeConn.request("node.publish.rtc.dc1.sfu-live01", encodeRequest({ Action: "save", Node: n }))).data).Success);
    for (let i = 0; i < 8; i++) {
      await sleep(250);
      await nodeConn.request("node.publish.rtc.dc1.sfu-live01", encodeRequest({ Action: "update", Node: n }));
    }
    ok(registry.nodes().some((x) => x.nid === "sfu-live01"), "still registered after 2 s of updates with a 1 s expiry");
  });

  it("rejections: save refused → Success:false with the reason, not stored; refused update → false", async () => {
    const evil = { ...rtcNode, NID: "evil-1" };
    const r = decodeResponse((await nodeConn.request("node.publish.rtc.dc1.evil-1", encodeRequest({ Action: "save", Node: evil }))).data);
    deepStrictEqual(r, { Success: false, Reason: "nid not allowed" });
    ok(!registry.nodes().some((x) => x.nid === "evil-1"));
    const grumpy = { ...rtcNode, NID: "grumpy-1" };
    ok(decodeResponse((await nodeConn.request("node.publish.rtc.dc1.grumpy-1", encodeRequest({ Action: "save", Node: grumpy }))).data).Success);
    deepStrictEqual(decodeResponse((await nodeConn.request("node.publish.rtc.dc1.grumpy-1", encodeRequest({ Action: "update", Node: grumpy }))).data), { Success: false, Reason: "rejected" });
  });

  it("malformed or unknown messages get Success:false (or nothing without a reply) and the registry lives on", async () => {
    const bad = decodeResponse((await nodeConn.request("node.publish.rtc.dc1.x", Uint8Array.from([1, 2, 3]))).data);
    equal(bad.Success, false);
    ok(bad.Reason.startsWith("malformed request"));
    const odd = decodeResponse((await nodeConn.request("node.publish.rtc.dc1.x", encodeRequest({ Action: "explode", Node: rtcNode }))).data);
    deepStrictEqual(odd, { Success: false, Reason: 'unknown action "explode"' });
    nodeConn.publish("node.publish.rtc.dc1.x", Uint8Array.from([0xff, 0xff]));
    ok(log.lines.some((l) => l.msg.includes("malformed")));
    const again = await nodeConn.request("node.publish.*", vec("request-get-all"), { timeout: 2000 });
    ok(Array.isArray(decodeGetResponse(again.data).Nodes));
  });
});
