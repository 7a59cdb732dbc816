/**
 * grpc-websockets load (the improbable-eng transport ion-sdk-js uses), speaking the protocol itself
 * over `ws`: first WebSocket message = the header block, then `0x00` ‖ gRPC frame per message,
 * `0x01` to half-close; the server sends gRPC-Web frames (header frame, data frames, trailer frame)
 * and closes with 1000.
 *
 * Commands: `bidi` (EchoBidi; `window` messages in flight per stream: 1 = ping-pong latency, more =
 * message rate each way), `down` (EchoStream repeat N: one-way server → client rate), `idleOpen` /
 * `idleClose` (N idle EchoBidi streams, for the gateway's memory per stream).
 */
import { performance } from "node:perf_hooks";
import WebSocket from "ws";
import { argv, cpuMicros, emit, serveCommands } from "../lib/child.js";
import { Latencies, sleep, type LoadResult } from "../lib/latency.js";

argv();
const headerBlock = Buffer.from("content-type: application/grpc-web+proto\r\nx-grpc-web: 1\r\n");
const halfClose = Buffer.from([0x01]);

function dataFrame(msg: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(6 + msg.byteLength);
  b[0] = 0;
  b[1] = 0;
  b.writeUInt32BE(msg.byteLength, 2);
  b.set(msg, 6);
  return b;
}

/** Reassembles gRPC-Web frames from WebSocket messages (a frame may span several). */
class FrameReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  constructor(private readonly onFrame: (flags: number, data: Buffer) => void) {}
  push(chunk: Buffer): void {
    if (this.pendingBytes === 0 && chunk.length >= 5) {
      const len = chunk.readUInt32BE(1);
      if (chunk.length === 5 + len) {
        this.onFrame(chunk[0]!, chunk.subarray(5));
        return;
      }
    }
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    for (;;) {
      if (this.pendingBytes < 5) return;
      let buf = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
      const len = buf.readUInt32BE(1);
      if (buf.length < 5 + len) {
        this.pending = [buf];
        return;
      }
      this.onFrame(buf[0]!, buf.subarray(5, 5 + len));
      buf = buf.subarray(5 + len);
      this.pending = buf.length ? [buf] : [];
      this.pendingBytes = buf.length;
    }
  }
}

interface StreamEvents {
  onMessage(data: Buffer): void;
  onEnd(status: string): void;
}

function open(url: string, localAddress: string | undefined, ev: StreamEvents): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ["grpc-websockets"], { localAddress, perMessageDeflate: false });
    let ended = false;
    const end = (s: string) => {
      if (!ended) {
        ended = true;
        ev.onEnd(s);
      }
    };
    const reader = new FrameReader((flags, data) => {
      if (flags & 0x80) {
        const text = data.toString("latin1");
        const m = /grpc-status: (\d+)/.exec(text);
        if (m) end(m[1]!);
      } else ev.onMessage(data);
    });
    ws.binaryType = "nodebuffer";
    ws.on("message", (d: Buffer) => reader.push(d));
    ws.once("open", () => {
      ws.send(headerBlock);
      resolve(ws);
    });
    ws.once("error", (e) => {
      end("error");
      reject(e);
    });
    ws.once("close", () => end("closed"));
  });
}

interface WsRunArgs {
  url: string;
  streams: number;
  /** base64 request message (EchoRequest bytes) */
  payload: string;
  window?: number;
  warmupMs: number;
  durationMs: number;
}

async function measure(r: WsRunArgs, set: (on: boolean) => void): Promise<{ durationMs: number; cpuUs: number }> {
  await sleep(r.warmupMs);
  emit("measure-start");
  set(true);
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  await sleep(r.durationMs);
  set(false);
  const durationMs = performance.now() - start;
  const cpuUs = cpuMicros(cpu0);
  emit("measure-end");
  return { durationMs, cpuUs };
}

/** EchoBidi with `window` messages outstanding per stream. */
async function bidi(r: WsRunArgs): Promise<LoadResult> {
  const frame = dataFrame(Buffer.from(r.payload, "base64"));
  const window = r.window ?? 1;
  const lat = new Latencies();
  let measuring = false;
  let stop = false;
  let sent = 0;
  let received = 0;
  let errors = 0;
  const streams: { ws: WebSocket; send(): void; ended: Promise<void> }[] = [];
  for (let s = 0; s < r.streams; s++) {
    const times: number[] = [];
    let head = 0;
    let done!: () => void;
    const ended = new Promise<void>((res) => (done = res));
    const st = {
      ws: undefined as unknown as WebSocket,
      ended,
      send() {
        times.push(performance.now());
        if (measuring) sent++;
        st.ws.send(frame);
      },
    };
    st.ws = await open(r.url + "/demo.v1.EchoService/EchoBidi", undefined, {
      onMessage() {
        const t0 = times[head++]!;
        if (head > 4096) {
          times.splice(0, head);
          head = 0;
        }
        if (measuring) {
          received++;
          lat.push(performance.now() - t0);
        }
        if (!stop) st.send();
      },
      onEnd(status) {
        if (status !== "0" && !stop) errors++;
        done();
      },
    });
    streams.push(st);
  }
  for (const st of streams) for (let i = 0; i < window; i++) st.send();
  const m = await measure(r, (on) => (measuring = on));
  stop = true;
  for (const st of streams) st.ws.send(halfClose);
  await Promise.race([Promise.all(streams.map((s) => s.ended)), sleep(5000)]);
  for (const st of streams) st.ws.terminate();
  return {
    count: received,
    durationMs: m.durationMs,
    rate: (received * 1000) / m.durationMs,
    lat: lat.summary(),
    errors,
    cpuUs: m.cpuUs,
    extra: { sentPerSec: (sent * 1000) / m.durationMs, recvPerSec: (received * 1000) / m.durationMs },
  };
}

/** EchoStream (`payload` carries `repeat`): server → client messages, streams re-opened as they end. */
async function down(r: WsRunArgs): Promise<LoadResult> {
  const frame = dataFrame(Buffer.from(r.payload, "base64"));
  let measuring = false;
  let stop = false;
  let received = 0;
  let errors = 0;
  const live = new Set<WebSocket>();
  const loop = async () => {
    while (!stop) {
      let done!: () => void;
      const ended = new Promise<void>((res) => (done = res));
      let ws: WebSocket;
      try {
        ws = await open(r.url + "/demo.v1.EchoService/EchoStream", undefined, {
          onMessage() {
            if (measuring) received++;
          },
          onEnd(status) {
            if (status !== "0" && !stop) errors++;
            done();
          },
        });
      } catch {
        errors++;
        await sleep(50);
        continue;
      }
      live.add(ws);
      ws.send(frame);
      ws.send(halfClose);
      await ended;
      live.delete(ws);
    }
  };
  const loops = Array.from({ length: r.streams }, loop);
  const m = await measure(r, (on) => (measuring = on));
  stop = true;
  for (const ws of live) ws.terminate();
  await Promise.race([Promise.all(loops), sleep(5000)]);
  return { count: received, durationMs: m.durationMs, rate: (received * 1000) / m.durationMs, lat: new Latencies().summary(), errors, cpuUs: m.cpuUs };
}

const idle = new Set<WebSocket>();
let idleSeq = 0;

/**
 * Opens `n` more EchoBidi streams (header frame sent, no message) that stay idle, spread over source
 * addresses 127.0.0.2… (900 each) so that no address passes the gateway's default 1,000 calls per IP.
 * Returns how many are open in all (a stream the gateway ends is dropped from the count).
 */
async function idleOpen(a: { url: string; n: number; parallel?: number }): Promise<{ opened: number; failed: number; ms: number }> {
  const t0 = performance.now();
  const before = idle.size;
  let left = a.n;
  const perAddress = 900;
  const worker = async () => {
    while (left > 0) {
      left--;
      const i = idleSeq++;
      const local = `127.0.0.${2 + Math.floor(i / perAddress)}`;
      try {
        let ws: WebSocket | undefined;
        let endedEarly = false;
        ws = await open(a.url + "/demo.v1.EchoService/EchoBidi", local, {
          onMessage() {},
          onEnd() {
            endedEarly = true;
            if (ws) idle.delete(ws);
          },
        });
        if (!endedEarly) idle.add(ws);
      } catch {
        // counted below
      }
    }
  };
  await Promise.all(Array.from({ length: a.parallel ?? 64 }, worker));
  await sleep(200);
  return { opened: idle.size, failed: a.n - (idle.size - before), ms: performance.now() - t0 };
}

async function idleClose(): Promise<{ closed: number }> {
  const n = idle.size;
  const gone = [...idle].map((ws) => new Promise<void>((r) => (ws.readyState === WebSocket.CLOSED ? r() : ws.once("close", () => r()))));
  for (const ws of idle) ws.close(1000);
  await Promise.race([Promise.all(gone), sleep(10_000)]);
  for (const ws of idle) ws.terminate();
  idle.clear();
  return { closed: n };
}

serveCommands({ bidi, down, idleOpen, idleClose });
