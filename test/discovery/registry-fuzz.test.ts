/**
 * 10,000+ fuzzed payloads on the registry's and the watcher's subjects, with and without reply
 * subjects: neither dies, every request with a reply gets exactly one answer, and both still work.
 */
import { equal, ok } from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { createInbox, type NatsConnection } from "@nats-io/nats-core";
import { startNatsServer, type NatsServer } from "../../src/cli/nats-server.js";
import { DiscoveryClient, NodeTable, randomNid, startRegistry, syncDiscovery, type Registry, type Watcher } from "../../src/discovery/index.js";
import { eventually, tcp } from "../helpers/nats.js";
import { fromHex, recordingLog } from "./helpers.js";

const vectors: { hex: string }[] = JSON.parse(readFileSync(new URL("../fixtures/discovery-gob-vectors.json", import.meta.url), "utf8")).vectors;
const valid = vectors.map((v) => fromHex(v.hex));

/** Random bytes, or a valid vector with a few bytes changed / cut / inserted. Never empty. */
const fuzzed = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 300 }),
  fc
    .tuple(fc.integer({ min: 0, max: valid.length - 1 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 2 })), { minLength: 1, maxLength: 3 }))
    .map(([i, muts]) => {
      const b = Array.from(valid[i]!);
      for (const [at, byte, op] of muts) {
        const p = at % b.length;
        if (op === 0) b[p] = byte;
        else if (op === 1) b.splice(p, 0, byte);
        else b.length = Math.max(1, p);
      }
      return Uint8Array.from(b);
    }),
);

describe("fuzzing the registry and a watcher over NATS", () => {
  let server: NatsServer;
  let regConn: NatsConnection;
  let gwConn: NatsConnection;
  let fuzzConn: NatsConnection;
  let registry: Registry;
  let table: NodeTable;
  let sync: Watcher;
  const regLog = recordingLog();
  const gwLog = recordingLog();

  before(async () => {
    server = await startNatsServer();
    [regConn, gwConn, fuzzConn] = await Promise.all([tcp(server, "registry"), tcp(server, "gateway"), tcp(server, "fuzzer")]);
    registry = await startRegistry(regConn, { log: regLog });
    table = new NodeTable();
    sync = await syncDiscovery(gwConn, table, { service: "*", log: gwLog });
  });

  after(async () => {
    await sync.close();
    table.close();
    await registry.stop();
    await Promise.all([regConn.close(), gwConn.close(), fuzzConn.close()]);
    await server.stop();
  });

  it("survives 12,000 fuzzed payloads and still registers, watches and answers gets", async () => {
    const payloads = fc.sample(fuzzed, { numRuns: 12_000, seed: 42 });
    const inbox = createInbox();
    let replies = 0;
    const sub = fuzzConn.subscribe(inbox, { callback: () => void replies++ });
    let withReply = 0;
    for (let i = 0; i < payloads.length; i++) {
      const subject = i % 2 === 0 ? "node.publish.x.y.z" : "node.discovery.x.y.z";
      const reply = i % 4 < 2;
      if (reply && subject.startsWith("node.publish")) withReply++;
      fuzzConn.publish(subject, payloads[i], reply ? { reply: inbox } : undefined);
      if (i % 1000 === 999) await fuzzConn.flush();
    }
    await fuzzConn.flush();
    // The registry answers every request on node.publish (success, refusal or a get answer), exactly once.
    await eventually(() => replies >= withReply, 10_000, `${withReply} registry replies (have ${replies})`);
    await regConn.flush();
    await fuzzConn.flush();
    equal(replies, withReply);
    sub.unsubscribe();
    ok(regLog.lines.filter((l) => l.msg.includes("malformed")).length > 1000, "malformed payloads were logged");
    ok(gwLog.lines.filter((l) => l.msg.includes("malformed")).length > 1000, "the watcher logged and skipped them");

    // Both still work.
    const client = new DiscoveryClient(fuzzConn);
    const nid = randomNid("sfu");
    const ka = client.keepAlive({ nid, service: "rtc", dc: "dc1", rpc: { protocol: "nats-grpc", addr: "x", params: {} }, extraInfo: {}, source: "discovery", lastSeen: 0 });
    ok(await ka.ready);
    await eventually(() => table.get(nid), 1000, "fresh node in the watcher's table");
    ok((await client.get("rtc")).some((n) => n.nid === nid));
    await ka.close();
    await eventually(() => !table.get(nid), 1000, "fresh node gone");
  });
});
