// The `edge-signal` command: --help, `demo` (local default: nats-server started for it, registry, demo
// nodes, gateway, status API) serving calls soon after start and stopping cleanly on SIGTERM, `token`,
// a clear message when nats-server is missing, and `check` (the effective config, or every problem).
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { jwtVerify } from "jose";
import { echoReq, echoRes } from "../../helpers/echo-schema.js";
import { listening } from "../../../src/cli/nats-server.js";
import { edgeSignalBin, runCli as run, runCommand, servingGateway } from "../../helpers/cli.js";
import { eventually, within } from "../../helpers/wait.js";

test("--help lists the commands", async () => {
  const p = run(["--help"]);
  assert.equal(await p.exit, 0);
  for (const cmd of ["demo", "serve", "registry", "token", "check"]) assert.match(p.out(), new RegExp(`\\n  ${cmd} `));
});

test("demo: serves calls soon after start, reports nodes, stops on SIGTERM", async () => {
  const t0 = Date.now();
  const p = run(["demo", "--port", "0"]);
  try {
    let url = "";
    for (let i = 0; i < 300 && !url; i++) {
      url = /gateway\s+(http:\/\/[\d.]+:\d+)/.exec(p.out())?.[1] ?? "";
      if (!url) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(url, `no gateway URL in output: ${p.out()} ${p.err()}`);
    let body: { message?: string; node?: string } = {};
    for (let i = 0; i < 200; i++) {
      const r = await fetch(`${url}/demo.v1.EchoService/Echo`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"message":"hi"}' });
      body = await r.json();
      if (r.status === 200) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    const ms = Date.now() - t0;
    assert.equal(body.message, "hi");
    assert.match(body.node ?? "", /^demo-[A-Za-z0-9]{6}$/);
    console.log(`demo served its first call ${ms} ms after spawn`);
    const nodes = await (await fetch(`${url}/api/nodes`)).json();
    assert.equal(nodes.services.demo.length, 2, "two demo nodes by default");
    assert.match(p.out(), /NATS\s+nats:\/\/127\.0\.0\.1:\d+\s+\(started for you/);
    // Its nats-server carries the largest message the gateway takes (4 MiB), not nats-server's 1 MiB.
    const big = "b".repeat(4 * 1024 * 1024 - 64);
    const r = await fetch(`${url}/demo.v1.EchoService/Echo`, { method: "POST", headers: { "content-type": "application/proto" }, body: echoReq(big) });
    assert.equal(r.status, 200, await r.clone().text().then((t) => t.slice(0, 300)));
    assert.equal(echoRes(new Uint8Array(await r.arrayBuffer())).message.length, big.length);
    assert.doesNotMatch(p.err(), /max_message_bytes/, "no max_payload warning from demo");
  } finally {
    p.child.kill("SIGTERM");
  }
  assert.equal(await p.exit, 0, p.err());
});

test("demo: a terminal's Ctrl-C (SIGINT to its whole process group) stops it cleanly, its nats-server last", async () => {
  // A terminal sends SIGINT to every process of the foreground group. When the nats-server that demo
  // started was in that group, it went down at once, and the gateway then waited out its whole
  // drain_timeout_ms (10 s) for a NATS that was gone: "discovery not left cleanly".
  const p = runCommand(process.execPath, [edgeSignalBin, "demo", "--port", "0"], { group: true });
  let natsPort = 0;
  try {
    await servingGateway(p, 2);
    natsPort = Number(/NATS\s+nats:\/\/127\.0\.0\.1:(\d+)/.exec(p.out())?.[1]);
    assert.ok(natsPort > 0, p.out());
  } finally {
    process.kill(-p.child.pid!, "SIGINT");
  }
  assert.equal(await within(p.exit, 20_000, "demo's exit after SIGINT"), 0, p.out() + p.err());
  const output = p.out() + p.err();
  assert.match(output, /"shutting down","signal":"SIGINT"/);
  assert.doesNotMatch(output, /not left cleanly|NATS disconnected|did not finish/);
  await eventually(async () => !(await listening(natsPort)), 5000, "demo's nats-server stopped with it");
});

test("token: mints a JWT with the given claims, signed with the key", async () => {
  const p = run(["token", "--key", "s3cret", "--uid", "alice", "--sid", "room1", "--services", "demo,rtc"]);
  assert.equal(await p.exit, 0, p.err());
  const { payload, protectedHeader } = await jwtVerify(p.out().trim(), new TextEncoder().encode("s3cret"));
  assert.equal(protectedHeader.alg, "HS256");
  assert.equal(payload.uid, "alice");
  assert.equal(payload.sid, "room1");
  assert.deepEqual(payload.services, ["demo", "rtc"]);
});

test("demo without nats-server on PATH says how to install it", async () => {
  const p = run(["demo", "--port", "0"], { ...process.env, PATH: "/nonexistent" });
  assert.equal(await p.exit, 1);
  assert.match(p.err(), /nats-server was not found on PATH.*apt-get install -y nats-server/);
});

test("serve without a NATS URL is a clear error", async () => {
  const env = { ...process.env };
  delete env.NATS_URL;
  delete env.EDGE_SIGNAL_NATS_URL;
  const p = run(["serve", "--port", "0"], env);
  assert.equal(await p.exit, 1);
  assert.match(p.err(), /no NATS URL/);
});

test("check: prints the effective config with secrets redacted, or every problem and exit 1", async () => {
  const dir = await mkdtemp(join(tmpdir(), "edge-signal-check-"));
  try {
    const good = join(dir, "good.toml");
    await writeFile(good, '[nats]\nurl = "nats://user:pw@127.0.0.1:4222"\n[signal.grpc]\nport = "7000"\ncert = ""\n[signal.jwt]\nenabled = true\nkey = "s3cret"\n');
    const ok = run(["check", "-c", good, "--host", "127.0.0.1"], { ...process.env, EDGE_SIGNAL_DC: "dc7", EDGE_SIGNAL_JWT_KYE: "x" });
    assert.equal(await ok.exit, 0, ok.err());
    const cfg = JSON.parse(ok.out());
    assert.equal(cfg.port, 7000);
    assert.equal(cfg.host, "127.0.0.1", "flags apply");
    assert.equal(cfg.dc, "dc7", "env applies");
    assert.equal(cfg.auth.enabled, true);
    assert.equal(cfg.auth.key, "[redacted]");
    assert.equal(cfg.natsUrl, "nats://user:[redacted]@127.0.0.1:4222");
    assert.ok(!ok.out().includes("s3cret") && !ok.out().includes(":pw@"));
    assert.match(ok.err(), /note: signal\.grpc\.cert is an ION key edge-signal accepts and does not use/);
    assert.match(ok.err(), /note: environment variable EDGE_SIGNAL_JWT_KYE is not read by edge-signal \(did you mean "EDGE_SIGNAL_JWT_KEY"\?\)/);

    const bad = join(dir, "bad.toml");
    await writeFile(bad, '[edge]\nmax_mesage_bytes = 10\n[edge.balancer]\ndefualt = "p2c"\n');
    const no = run(["check", "-c", bad]);
    assert.equal(await no.exit, 1);
    assert.equal(no.out(), "", "no config printed");
    assert.match(no.err(), /2 problems\n {2}config: edge\.max_mesage_bytes: unknown key \(did you mean "max_message_bytes"\?\)\n {2}config: edge\.balancer: unknown key "defualt" \(did you mean "default"\?\)\n$/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("serve refuses a bad config before connecting to NATS", async () => {
  const dir = await mkdtemp(join(tmpdir(), "edge-signal-check-"));
  try {
    const bad = join(dir, "bad.toml");
    await writeFile(bad, "[edge]\nmax_mesage_bytes = 10\n");
    // An address nothing listens on: a config error must come first, not a connection error.
    const p = run(["serve", "-c", bad, "--nats", "nats://127.0.0.1:1"]);
    assert.equal(await p.exit, 1);
    assert.match(p.err(), /edge\.max_mesage_bytes: unknown key/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
