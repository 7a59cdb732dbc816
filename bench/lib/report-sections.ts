/**
 * The report sections of issue 20's figures (bench/lib/report.ts assembles them): what
 * @hono/node-server costs, the latency breakdown at 1 in flight, large messages and the bytes copied
 * per call, every runtime side by side, and the profiles. Markdown lines.
 */
import type { SegmentSummary } from "./hops.js";
import type { BenchRun, Breakdown, CopyCount, ReportInput } from "./report.js";

const f0 = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "–");
const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "–");
const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : "–");
const ms = (n: number) => (Number.isFinite(n) ? (n < 10 ? n.toFixed(3) : n.toFixed(1)) : "–");
const sizeLabel = (size: number) => (size >= 1024 * 1024 ? `${size / 1024 / 1024} MiB` : size >= 1024 ? `${size / 1024} KiB` : `${size} B`);
const cpu = (r: BenchRun | undefined) => r?.cpuPerOp["server"] ?? NaN;

/** What @hono/node-server costs: the three forwarders at 64 B ×64. */
export function honoSection(input: ReportInput): string[] {
  const rs = input.runs.filter((r) => r.group === "hono");
  if (!rs.length) return [];
  const by = (t: string) => rs.find((r) => r.target === t);
  const plain = by("forwarder");
  const hono = by("forwarder-hono");
  const honoNode = by("forwarder-hono-node");
  const L = ["## What @hono/node-server costs per request", ""];
  L.push("The same naive forwarder three ways, 64 B × 64 in flight, NATS over TCP, interleaved: on `node:http`; on Hono + `@hono/node-server` reading the body with `c.req.arrayBuffer()` (what an app on that adapter does); and the same Hono app reading the body from Node's `IncomingMessage` (`c.env.incoming`), so that the adapter never builds the fetch `Request`.", "");
  L.push("| forwarder | req/s | p50 ms | p99 ms | CPU µs/req |", "|---|---:|---:|---:|---:|");
  for (const r of [plain, hono, honoNode]) if (r) L.push(`| ${r.label} | ${f0(r.opsPerSec)} | ${ms(r.result.lat.p50)} | ${ms(r.result.lat.p99)} | ${f1(cpu(r))} |`);
  L.push("");
  if (plain && hono && honoNode) {
    const split =
      cpu(plain) <= cpu(honoNode) && cpu(honoNode) <= cpu(hono)
        ? `Of it, the fetch \`Request\` the adapter builds when the body is read through it: **${f0(cpu(hono) - cpu(honoNode))} µs** (hono − hono reading IncomingMessage); Hono's routing, context and the adapter's response path: ${f0(cpu(honoNode) - cpu(plain))} µs.`
        : `This run cannot split it: the three are not in the order of the runs quoted in the README (node:http < Hono reading IncomingMessage < Hono): its noise (loadavg above) is larger than the parts.`;
    L.push(`- Hono over node:http: **+${f0(cpu(hono) - cpu(plain))} µs CPU per request** (${f2(plain.opsPerSec / hono.opsPerSec)}× the rate). ${split}`);
    L.push(
      "- Where (`@hono/node-server` 1.19, `listener.mjs`): `c.req.arrayBuffer()` turns the adapter's lightweight request into a real one (`newRequestFromIncoming`): a new `AbortController`, a `Headers` built and validated from `rawHeaders`, a `ReadableStream` whose `pull` wraps `Readable.toWeb(incoming)` (two web streams over the Node stream), and undici's `Request` constructor (WebIDL conversions, signal following); the body is then read back through undici's web-stream reader. In the Hono forwarder's profile below that machinery is the modules `node:internal/deps/undici/undici`, `webstreams/readablestream`, `worker/js_transferable` (every new ReadableStream is made transferable), `abort_controller`, `event_target` and `streams/end-of-stream`. Every gateway call that misses the Node fast path (streaming, gRPC-Web over chunked bodies, WebSocket upgrades) pays this bridge; a Node converter that serves calls from `IncomingMessage`/`ServerResponse` saves it.",
    );
    L.push("");
  }
  return L;
}

/** The latency breakdown at 1 in flight. */
export function breakdownSection(input: ReportInput): string[] {
  if (!input.breakdowns.length) return [];
  const L = ["## Where one call's time goes (1 in flight)", ""];
  L.push(
    "Hop timestamps of every call in one measured window at 1 in flight, gateway (NATS over TCP) and demo node (TCP), from `performance.now()` of each process (segments never span two clocks). The gateway's HTTP hops come from Node's objects (the request listener runs, the body's `end`, `res.end` called), the others from one-line hooks in the director and nrpc code (`src/nrpc/bench-hooks.ts`; off = one variable read). `published` = the call's envelopes handed to nats.js at the outbox's end-of-turn flush; nats.js writes the socket on its next microtask. p50, p90 and p99 per segment, µs, and of each call's whole span in each process (where the slowest calls spent their time); the floor ran just before, in the same minute.",
    "",
  );
  for (const b of input.breakdowns) L.push(...breakdownTable(b));
  return L;
}

function breakdownTable(b: Breakdown): string[] {
  const L = [`### ${sizeLabel(b.size)}`, "", "| where | segment | calls | p50 µs | p90 µs | p99 µs |", "|---|---|---:|---:|---:|---:|"];
  const row = (who: string, s: SegmentSummary) => `| ${who} | ${s.from} → ${s.to}${s.whole ? " (whole span)" : ""} | ${f0(s.count)} | ${f0(s.p50Us)} | ${f0(s.p90Us)} | ${f0(s.p99Us)} |`;
  for (const s of b.gateway) L.push(row("gateway", s));
  if (b.gatewayWhole) L.push(row("**gateway**", b.gatewayWhole));
  for (const s of b.node) L.push(row("demo node", s));
  if (b.nodeWhole) L.push(row("**demo node**", b.nodeWhole));
  const seg = (from: string, to: string, list = b.gateway) => list.find((s) => s.from === from && s.to === to)?.p50Us ?? NaN;
  const gwSpan = b.gateway.reduce((a, s) => a + s.p50Us, 0);
  const nodeSpan = b.node.reduce((a, s) => a + s.p50Us, 0);
  const away = seg("published", "reply-received");
  L.push(`| derived | NATS both ways + nats-server (published → reply received − the node's span) | | ${f0(away - nodeSpan)} | | |`);
  L.push(`| derived | HTTP client, loopback and kernel (driver p50 − the gateway's span) | | ${f0(b.gatewayP50 * 1000 - gwSpan)} | | |`);
  L.push("");
  L.push(
    `Driver p50: gateway ${ms(b.gatewayP50)} ms, raw NATS floor (TCP) ${ms(b.floorP50)} ms: **${b.gatewayP50 >= b.floorP50 ? "+" : ""}${f0((b.gatewayP50 - b.floorP50) * 1000)} µs**. ` +
      `An HTTP round trip alone (node:http answering the body itself, same driver) takes ${ms(b.httpEchoP50)} ms: the gateway's extra hop costs at least that much of the added time. ` +
      `The gateway's span (HTTP parsed → response written) is ${f0(gwSpan)} µs, of which ${f0(away)} µs waiting for NATS and the node; the node's span ${f0(nodeSpan)} µs (medians of segments; they need not add up to the median of the whole).`,
    "",
  );
  if (b.gatewayWhole) L.push(tailLine(b), "");
  return L;
}

/** Large messages: 1 MiB runs and the bytes copied per call. */
export function largeSection(input: ReportInput, runTable: (runs: BenchRun[]) => string[]): string[] {
  const rs = input.runs.filter((r) => r.group === "large");
  if (!rs.length && !input.copies.length) return [];
  const L = ["## Large messages", ""];
  if (rs.length) {
    L.push("Connect unary with a 1 MiB message each way (the bench's nats-server takes 2 MiB payloads; the default 1 MiB refuses a 1 MiB message plus its 8-byte envelope).", "", ...runTable(rs), "");
    for (const n of [...new Set(rs.map((r) => r.inflight))]) {
      const gw = rs.find((r) => r.target === "gateway" && r.inflight === n);
      const d = rs.find((r) => r.target === "direct" && r.inflight === n);
      const fw = rs.find((r) => r.target === "forwarder" && r.inflight === n);
      if (gw) L.push(`- ×${n}: gateway ÷ connect-node ${f2(d ? gw.opsPerSec / d.opsPerSec : NaN)}, ÷ forwarder ${f2(fw ? gw.opsPerSec / fw.opsPerSec : NaN)}`);
    }
    L.push("");
  }
  if (input.copies.length) L.push(...copiesTable(input.copies));
  return L;
}

function copiesTable(copies: CopyCount[]): string[] {
  const L = ["### Bytes copied per call in the gateway", ""];
  L.push(
    "Counted by `bench/lib/copies.ts` in the gateway process at 1 in flight: every `%TypedArray%.prototype.set`/`.slice`, `ArrayBuffer.prototype.slice` and `Buffer.concat` call, and `ws`'s masking of each outgoing frame, charged to its caller (from the stack), ÷ requests taken. Not counted: copies inside Node (socket reads and writes, the HTTP parser). Request and response each carry the message once, so 2× the message size is what a call must move at least through JS-visible buffers on each side of the gateway.",
    "",
  );
  L.push("| message | gateway | calls | bytes copied / call | × message | by site (bytes / call) |", "|---|---|---:|---:|---:|---|");
  for (const c of copies) {
    const per = Object.entries(c.sites)
      .map(([k, v]) => [k, v / Math.max(1, c.calls)] as const)
      .filter(([, v]) => v >= 1)
      .sort((a, b) => b[1] - a[1]);
    const total = per.reduce((a, [, v]) => a + v, 0);
    L.push(`| ${sizeLabel(c.size)} | ${c.target === "gateway" ? "NATS TCP" : "NATS WebSocket"} | ${f0(c.calls)} | ${f0(total)} | ${f2(total / c.size)} | ${per.slice(0, 6).map(([k, v]) => `\`${k}\` ${f0(v)}`).join("; ")} |`);
  }
  L.push("");
  return L;
}

/** Every runtime: Node, Deno and workerd beside each other. */
export function runtimesSection(input: ReportInput): string[] {
  const rs = input.runs.filter((r) => r.group === "runtimes");
  if (!rs.length && !input.runtimes.length) return [];
  const L = ["## Every runtime (Node, Deno, workerd)", ""];
  L.push(
    "The same Connect unary and grpc-websockets scenarios against the Node gateway, the Deno entry (`deno run -A src/runtime/deno.ts`) and the Workers entry under `wrangler dev` (real workerd: the Worker forwards to its hub Durable Object, which holds the NATS connection and the gateway), all on NATS over WebSocket (the only transport Deno and Workers have here), interleaved in the same minute. CPU is the whole process group (Deno; wrangler + workerd). \"core use\" = CPU time ÷ window: near 100 % = one thread saturated.",
    "",
  );
  for (const r of input.runtimes) L.push(`- ${r.name}: ${Number.isFinite(r.readyMs) ? `started and answering in ${(r.readyMs / 1000).toFixed(1)} s (in parallel with the Node processes)` : `did not start: ${r.error ?? "?"}`}`);
  L.push("", "| runtime | scenario | in flight | throughput | p50 ms | p99 ms | CPU µs/op | by process (µs/op) | core use | ÷ Node |", "|---|---|---:|---:|---:|---:|---:|---|---:|---:|");
  const scenario = (r: BenchRun) => r.label.replace(/^(Node \(NATS WebSocket\)|Deno|workerd \(wrangler dev\)) /, "");
  for (const r of rs) {
    const node = rs.find((x) => x.target === "gateway-ws" && scenario(x) === scenario(r));
    const use = (cpu(r) * r.opsPerSec) / 1e6;
    const parts = Object.entries(r.cpuPerOp)
      .filter(([k, v]) => k.startsWith("server/") && v >= 1)
      .map(([k, v]) => `${k.slice(7)} ${f0(v)}`)
      .join(", ");
    L.push(`| ${r.label.slice(0, r.label.length - scenario(r).length).trim()} | ${scenario(r)} | ${r.inflight} | ${f0(r.opsPerSec)} ${r.unit} | ${ms(r.result.lat.p50)} | ${ms(r.result.lat.p99)} | ${f1(cpu(r))} | ${parts || "–"} | ${f0(use * 100)} % | ${f2(node ? r.opsPerSec / node.opsPerSec : NaN)} |`);
  }
  L.push("");
  L.push("What limits each (from the figures above and how each runtime is built):", "");
  for (const [t, name, structure] of [
    ["gateway-ws", "Node", "serves Connect unary on its fast path from Node's request objects; grpc-websockets through `ws`; one thread for HTTP, the gateway and NATS"],
    ["deno", "Deno", "every call through the Hono app on fetch `Request`/`Response` objects (`Deno.serve`; no fast path), grpc-websockets through `Deno.upgradeWebSocket`; one isolate thread. Its NATS connection is Deno's WebSocket client, which leaves Nagle's algorithm on (`strace -e setsockopt` of the entry: `TCP_NODELAY, [0]` on the NATS socket): with more than one NATS message unacknowledged the next one waits for nats-server's delayed ACK, ~40 ms — outside the bench, autocannon against it gave 257 req/s at 1 connection and 82 req/s (p50 50 ms) at 4. Connect unary at 64 in flight is bound by that, not by CPU; NATS over TCP with `setNoDelay` (Deno.connect, @nats-io/transport-deno) would remove it"],
    ["workerd", "workerd", "every request crosses from the Worker to the hub Durable Object (a second fetch inside workerd), then the Hono app; the Durable Object is single-threaded. Under `wrangler dev` each HTTP request also costs milliseconds of CPU in wrangler's Node process and in workerd (the \"by process\" column; a grpc-websockets message costs neither): the local dev server's per-request work, not the gateway's (which a deployed Worker does not have). Measured here, Connect unary through workerd is bound by that"],
  ] as const) {
    const loaded = rs.filter((r) => r.target === t && r.inflight >= 64);
    if (!loaded.length) continue;
    const uses = loaded.map((r) => ({ r, use: (cpu(r) * r.opsPerSec) / 1e6 }));
    const bound = uses.filter((u) => u.use >= 0.85);
    L.push(
      `- **${name}**: ${structure}. Under load: ${uses.map((u) => `${scenario(u.r)} at ${f0(u.use * 100)} % of a core, ${f1(cpu(u.r))} µs CPU/op`).join("; ")}` +
        (bound.length ? ` — CPU-bound on its thread there.` : ` — not CPU-bound: it waits (NATS round trips, the scheduler of a 2-core machine shared with the drivers).`),
    );
  }
  L.push("");
  return L;
}

/** The profile summaries. */
export function profilesSection(input: ReportInput): string[] {
  const L: string[] = [];
  for (const p of input.profiles) {
    L.push(`## Profile: ${p.title}`, "");
    L.push(`\`node --cpu-prof\` on a separate process (${f0(p.rate)} req/s under the profiler); whole process life, ${f0(p.summary.busyMs)} ms busy of ${f0(p.summary.totalMs)} ms. Summarized by \`bench/profile-summary.ts\`; file \`${p.file.split("/").slice(-1)[0]}\`.`, "");
    L.push("Top self time:", "", "| self ms | % busy | function | where |", "|---:|---:|---|---|");
    for (const r of p.summary.top) L.push(`| ${f1(r.selfMs)} | ${f1(r.pct)} | \`${r.name}\` | ${r.where ? `\`${r.where}\`` : ""} |`);
    L.push("", "Self time by module:", "", "| self ms | % busy | module |", "|---:|---:|---|");
    for (const r of p.summary.byModule.slice(0, 12)) L.push(`| ${f1(r.selfMs)} | ${f1(r.pct)} | \`${r.name}\` |`);
    L.push("");
  }
  if (input.profiles.length) L.push("V8 samples by wall clock: on a busy machine the time a process spends descheduled right after a socket write is charged to `writeBuffer`/`writev`, so their share overstates their CPU cost; the /proc CPU figures are CPU time.", "");
  return L;
}

/**
 * Where the slowest calls at 1 in flight spent their time: the driver's p99 against the p99 of each
 * call's whole span inside the gateway, of its wait for the reply (NATS both ways, nats-server and the
 * node) and of the node's own span.
 */
export function tailLine(b: Breakdown): string {
  const gw = b.gatewayWhole?.p99Us ?? NaN;
  const node = b.nodeWhole?.p99Us ?? NaN;
  const wait = b.gateway.find((s) => s.from === "published" && s.to === "reply-received")?.p99Us ?? NaN;
  const onNats = wait - node > gw / 2;
  return (
    `Tail: driver p99 gateway ${ms(b.gatewayP99)} ms, raw NATS floor ${ms(b.floorP99)} ms, HTTP round trip alone ${ms(b.httpEchoP99)} ms. ` +
    `Inside the gateway the slowest 1 % of calls take ${f0(gw)} µs (p99 of the whole span); the wait for the reply alone is ${f0(wait)} µs at p99, while the node's own span is ${f0(node)} µs at p99: ` +
    (onNats
      ? `the slow calls wait between the gateway's publish and the reply — NATS both ways, nats-server (whose raw request/reply p99 is ${ms(b.floorP99)} ms here), the node's event loop before it starts on the message (GC, other work) — not in the gateway's segments nor in the node's handling of the call.`
      : `the slow calls spend most of it in the gateway's own segments (above).`)
  );
}
