// Issue 16 row 9: SIGTERM ends the process within edge.drain_timeout_ms whatever the state of NATS.
// `serve` took 15–60 s when NATS had gone down (a discovery delete and NATS drain waiting on a server
// that is gone), and `demo --nats <url>` was still running 4 minutes later; `registry` waited on its
// NATS drain the same way. Here nats-server is killed
// (or frozen with SIGSTOP: the socket stays open and nothing answers) while streams are open, then the
// gateway process gets SIGTERM: it must exit 0 before drain_timeout_ms plus a small margin (process
// exit, signal delivery on a loaded machine). The measured time is printed.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import type { NatsConnection } from "@nats-io/nats-core";
import { startDemoNode, type DemoNode } from "../../../src/demo/node.js";
import { startRegistry, type Registry } from "../../../src/discovery/index.js";
import { EchoRequestSchema } from "../../../src/gen/demo/v1/echo_pb.js";
import { connectNats } from "../../../src/runtime/node/nats-connect.js";
import { runCli, type CliProcess } from "../../helpers/cli.js";
import { WsCall } from "../../helpers/grpc-websockets-client.js";
import { eventually, natsServer, type NatsServer } from "../../helpers/nats.js";

const DRAIN_MS = 3000;
/** Signal delivery and process exit on a loaded 2-core machine; the shutdown itself must fit in DRAIN_MS. */
const MARGIN_MS = 2000;

/** What the test process runs beside `serve` (demo brings its own). */
interface Backends {
  nc: NatsConnection;
  registry: Registry;
  node: DemoNode;
}

async function withStack(mode: "serve" | "demo", fault: "kill" | "stop"): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "edge-shutdown-"));
  const conf = join(dir, "signal.toml");
  await writeFile(conf, `[edge]\ndrain_timeout_ms = ${DRAIN_MS}\n`);
  const nats: NatsServer = await natsServer();
  let backends: Backends | undefined;
  let p: CliProcess | undefined;
  try {
    if (mode === "serve") {
      const nc = await connectNats(nats.url, { name: "shutdown-test" });
      const registry = await startRegistry(nc);
      backends = { nc, registry, node: await startDemoNode(nc, { natsUrl: nats.url }) };
    }
    const args = mode === "serve" ? ["serve", "--nats", nats.url] : ["demo", "--nats", nats.url, "--nodes", "1"];
    p = runCli([...args, "-c", conf, "--port", "0", "--host", "127.0.0.1"], { ...process.env, EDGE_SIGNAL_LOG_LEVEL: "info" });
    const { child, out, err, exit: exited } = p;
    const url: string = await eventually(() => /gateway\s+(http:\/\/[\d.]+:\d+)/.exec(out())?.[1] ?? "", 20_000, "gateway URL");
    await eventually(async () => ((await (await fetch(`${url}/api/nodes`)).json()).services?.demo?.length ?? 0) === 1, 10_000, "demo node discovered");

    // Open streams, each answered once: calls in flight when NATS goes.
    const calls = [];
    for (let i = 0; i < 5; i++) calls.push(await new WsCall(`${url.replace("http", "ws")}/demo.v1.EchoService/EchoBidi`).start());
    for (const [i, c] of calls.entries()) c.send(toBinary(EchoRequestSchema, create(EchoRequestSchema, { message: `s${i}` })));
    await Promise.all(calls.map((c) => c.nextMessage()));

    if (fault === "kill") {
      nats.process.kill("SIGKILL");
      // The gateway has noticed: not ready any more.
      await eventually(async () => (await fetch(`${url}/readyz`)).status === 503, 10_000, "gateway sees NATS down");
    } else {
      nats.process.kill("SIGSTOP"); // the connection stays up; nothing answers any more
    }

    const t0 = Date.now();
    child.kill("SIGTERM");
    const deadline = DRAIN_MS + MARGIN_MS;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const code = await Promise.race([exited, new Promise<"late">((r) => (timer = setTimeout(() => r("late"), deadline)))]);
    clearTimeout(timer);
    const ms = Date.now() - t0;
    console.log(`# ${mode}, nats-server ${fault === "kill" ? "killed" : "stopped (SIGSTOP)"}: ${code === "late" ? "still running" : "exited"} ${ms} ms after SIGTERM (drain_timeout_ms ${DRAIN_MS})`);
    assert.notEqual(code, "late", `${mode}: still running ${deadline} ms after SIGTERM\n${err().slice(-3000)}`);
    assert.equal(code, 0, err().slice(-3000));
    for (const r of await Promise.all(calls.map((c) => c.result()))) assert.equal(r.code, 14, `every stream ended UNAVAILABLE (${JSON.stringify(r.message)})`);
  } finally {
    if (p && p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
    if (fault === "stop" && nats.process.exitCode === null) nats.process.kill("SIGCONT");
    if (backends) {
      await backends.registry.stop();
      backends.node.kill();
      await backends.nc.close();
    }
    await nats.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

test("serve: nats-server killed, then SIGTERM → exit 0 within drain_timeout_ms", { timeout: 60_000 }, () => withStack("serve", "kill"));
test("serve: nats-server frozen (SIGSTOP), then SIGTERM → exit 0 within drain_timeout_ms", { timeout: 60_000 }, () => withStack("serve", "stop"));
test("demo --nats <url>: nats-server killed, then SIGTERM → exit 0 within drain_timeout_ms", { timeout: 60_000 }, () => withStack("demo", "kill"));
test("demo --nats <url>: nats-server frozen (SIGSTOP), then SIGTERM → exit 0 within drain_timeout_ms", { timeout: 60_000 }, () => withStack("demo", "stop"));

test("registry --nats <url>: nats-server frozen (SIGSTOP), then SIGTERM → exit 0 within drain_timeout_ms", { timeout: 60_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), "edge-shutdown-"));
  const conf = join(dir, "signal.toml");
  await writeFile(conf, `[edge]\ndrain_timeout_ms = ${DRAIN_MS}\n`);
  const nats = await natsServer();
  const p = runCli(["registry", "--nats", nats.url, "-c", conf]);
  try {
    await eventually(() => p.out().includes("registry is up"), 20_000, "registry up");
    nats.process.kill("SIGSTOP"); // its NATS drain can never finish now
    const t0 = Date.now();
    p.child.kill("SIGTERM");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const code = await Promise.race([p.exit, new Promise<"late">((r) => (timer = setTimeout(() => r("late"), DRAIN_MS + MARGIN_MS)))]);
    clearTimeout(timer);
    console.log(`# registry, nats-server stopped (SIGSTOP): ${code === "late" ? "still running" : "exited"} ${Date.now() - t0} ms after SIGTERM (drain_timeout_ms ${DRAIN_MS})`);
    assert.notEqual(code, "late", p.err().slice(-3000));
    assert.equal(code, 0, p.err().slice(-3000));
  } finally {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
    if (nats.process.exitCode === null) nats.process.kill("SIGCONT");
    await nats.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
