/** NATS micro as a discovery source, with real @nats-io/services services on a real nats-server. */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { NatsConnection } from "@nats-io/nats-core";
import { Svcm, type Service } from "@nats-io/services";
import { startNatsServer, type NatsServer } from "../../src/cli/nats-server.js";
import { NodeTable, startMicroDiscovery, type MicroDiscovery, type NodeChange } from "../../src/discovery/index.js";
import { eventually, tcp } from "../helpers/nats.js";
import { recordingLog } from "./helpers.js";

/** @nats-io/services bundles its own nats-core copy; the connection is the same at runtime. */
const svcm = (nc: NatsConnection) => new Svcm(nc as unknown as ConstructorParameters<typeof Svcm>[0]);

describe("NATS micro discovery", () => {
  let server: NatsServer;
  let svcConn: NatsConnection;
  let gwConn: NatsConnection;
  let table: NodeTable;
  let micro: MicroDiscovery;
  const changes: NodeChange[] = [];
  const log = recordingLog();

  before(async () => {
    server = await startNatsServer();
    [svcConn, gwConn] = await Promise.all([tcp(server, "services"), tcp(server, "gateway")]);
    table = new NodeTable();
    table.onChange((c) => changes.push(c));
    micro = startMicroDiscovery(gwConn, table, { intervalMs: 250, windowMs: 100, missedRounds: 2, log });
    await micro.ready;
  });

  after(async () => {
    await micro.close();
    table.close();
    await Promise.all([svcConn.close(), gwConn.close()]);
    await server.stop();
  });

  it("finds micro services, with version, metadata, endpoints and a numeric load", async () => {
    const services = svcm(svcConn);
    const echo: Service = await services.add({ name: "echo", version: "1.2.3", description: "says it back", metadata: { dc: "dc7", zone: "a" } });
    echo.addEndpoint("say", { subject: "echo.say", handler: (_e, m) => m.respond(m.data) });
    const other: Service = await services.add({ name: "echo", version: "1.2.4" });
    const id = echo.info().id;
    await eventually(() => table.nodes("echo").length === 2, 3000, "two echo instances");
    const n = table.get(id)!;
    equal(n.source, "micro");
    equal(n.service, "echo");
    equal(n.dc, "dc7");
    equal(n.rpc.protocol, "nats-micro");
    deepStrictEqual(n.rpc.params, { say: "echo.say" });
    equal(n.extraInfo.version, "1.2.3");
    equal(n.extraInfo.description, "says it back");
    deepStrictEqual(n.extraInfo.metadata, { dc: "dc7", zone: "a" });
    equal(typeof n.extraInfo.load, "number");

    // Requests show up as numRequests and a positive load.
    for (let i = 0; i < 20; i++) await gwConn.request("echo.say", "hi");
    await eventually(() => (table.get(id)?.extraInfo.numRequests as number) >= 20, 3000, "numRequests counted");
    const loads = () => changes.flatMap((c) => (c.type === "update" && c.node.nid === id ? [c.node.extraInfo.load as number] : []));
    await eventually(() => loads().some((l) => l > 0), 3000, "a positive request rate as load");

    // A stopped instance is removed after it misses two rounds; the other stays.
    await echo.stop();
    await eventually(() => !table.get(id), 3000, "stopped instance removed");
    ok(changes.some((c) => c.type === "down" && c.node.nid === id && c.reason === "expired"));
    deepStrictEqual(table.nodes("echo").map((x) => x.nid), [other.info().id]);
    await other.stop();
    await eventually(() => table.nodes("echo").length === 0, 3000, "all gone");
  });

  it("skips malformed replies and keeps polling", async () => {
    const junk = svcConn.subscribe("$SRV.INFO", { callback: (_e, m) => {
        m.respond("not json");
        m.respond(JSON.stringify({ type: "io.nats.micro.v1.info_response", id: "bad id", name: "x" }));
      },
    });
    await svcConn.flush();
    await micro.refresh();
    await micro.refresh();
    ok(log.lines.some((l) => l.msg.includes("malformed reply")));
    ok(log.lines.some((l) => l.msg.includes("usable id")));
    equal(table.nodes("x").length, 0);
    junk.unsubscribe();
    const svc = await svcm(svcConn).add({ name: "later", version: "0.0.1" });
    await eventually(() => table.nodes("later").length === 1, 3000, "new service still found");
    await svc.stop();
  });

  it("close() removes the micro nodes it added", async () => {
    const t = new NodeTable();
    const svc = await svcm(svcConn).add({ name: "tmp", version: "1.0.0" });
    // The service's subscriptions must reach the server before the one poll this discovery makes
    // (its next round is 10 s away); without the flush a loaded machine can lose that race.
    await svcConn.flush();
    const m = startMicroDiscovery(gwConn, t, { intervalMs: 10_000, windowMs: 1000, name: "tmp" });
    await m.ready;
    equal(t.nodes("tmp").length, 1);
    await m.close();
    equal(t.size, 0);
    t.close();
    await svc.stop();
  });
});
