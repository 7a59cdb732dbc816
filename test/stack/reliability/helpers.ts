/**
 * Helpers of the reliability suite: the leak check every stack-based file ends with (gateway-owned
 * NATS subscriptions back to the baseline measured at start, no inbox tokens, every in-flight gauge
 * at zero), a summary line per file, raw clients bound to another loopback source address, and a
 * minimal hand-framed WebSocket client (to send what `ws` refuses to: a frame header announcing more
 * bytes than ever follow, a 1 MB header line).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { Code } from "@connectrpc/connect";
import type { Stack } from "../../helpers/gateway.js";
import { eventually } from "../../helpers/nats.js";
import { Wakeup } from "../../helpers/wait.js";
import { b64, envelope, envelopes, fromGrpcWebText, grpcWebResult } from "../../helpers/grpc-web.js";
import { WsCall } from "../../helpers/grpc-websockets-client.js";

/** The subjects of the subscriptions nats-server holds for the stack's first gateway, sorted. */
export async function gatewaySubscriptions(stack: Stack, connName = "test-gateway-0"): Promise<string[]> {
  const connz = await stack.nats.monitor("connz?subs=1");
  const out: string[] = [];
  for (const c of connz.connections ?? []) if (c.name === connName) out.push(...((c.subscriptions_list as string[] | undefined) ?? []));
  return out.sort();
}

/**
 * NATS micro discovery polls with a short-lived reply inbox (`_INBOX.<nuid>`, unsubscribed after its
 * collection window): at most one exists at a time. Everything else is the fixed set.
 */
const isPollInbox = (s: string) => /^_INBOX\.[A-Za-z0-9]+$/.test(s);

/** The gateway's fixed subscriptions (without a micro poll window that happens to be open). */
export async function fixedSubscriptions(stack: Stack): Promise<{ fixed: string[]; pollInboxes: number }> {
  const all = await gatewaySubscriptions(stack);
  return { fixed: all.filter((s) => !isPollInbox(s)), pollInboxes: all.filter(isPollInbox).length };
}

/** `edge_signal_calls_in_flight` as /metrics reports it. */
export async function metricsInFlight(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith("edge_signal_calls_in_flight"));
  assert.ok(line, "edge_signal_calls_in_flight is exported");
  return Number(line.slice(line.lastIndexOf(" ") + 1));
}

/** What the leak check compares; taken once the stack is up (and after one warm-up call). */
export interface Baseline {
  readonly subscriptions: string[];
}

export async function baseline(stack: Stack): Promise<Baseline> {
  // Let subscriptions made at start-up settle on the server first.
  await stack.gw.gateway.client.nc.flush();
  return { subscriptions: (await fixedSubscriptions(stack)).fixed };
}

/**
 * The leak check: waits (bounded) until the gateway holds no call anywhere and its NATS subscriptions
 * are exactly the baseline, then asserts each count so that a failure names what leaked.
 */
export async function assertNoLeaks(stack: Stack, base: Baseline, what = "after the suite"): Promise<void> {
  const g = stack.gw.gateway;
  const state = async () => ({
    director: g.director.inFlight,
    stats: g.stats.inFlight,
    inboxes: g.client.inFlight,
    metrics: await metricsInFlight(stack.url),
    balancer: g.table.nodes("*").reduce((n, node) => n + g.balancer.inFlight(node.nid), 0),
    ...(await fixedSubscriptions(stack).then((s) => ({ subscriptions: s.fixed, pollInboxes: s.pollInboxes }))),
  });
  let last = await state();
  const clean = (s: typeof last) =>
    s.director === 0 && s.stats === 0 && s.inboxes === 0 && s.metrics === 0 && s.balancer === 0 && s.pollInboxes <= 1 && JSON.stringify(s.subscriptions) === JSON.stringify(base.subscriptions);
  await eventually(async () => clean((last = await state())), 15_000, `no leaks ${what}`).catch(() => {});
  assert.equal(last.director, 0, `director.inFlight ${what}`);
  assert.equal(last.stats, 0, `stats.inFlight ${what}`);
  assert.equal(last.inboxes, 0, `client.inFlight (inbox tokens) ${what}`);
  assert.equal(last.metrics, 0, `/metrics edge_signal_calls_in_flight ${what}`);
  assert.equal(last.balancer, 0, `balancer in-flight ${what}`);
  assert.deepEqual(last.subscriptions, base.subscriptions, `gateway NATS subscriptions back to the baseline ${what}`);
  assert.ok(last.pollInboxes <= 1, `at most one micro poll inbox open (${last.pollInboxes}) ${what}`);
}

/** One summary line per file: what it tried, by kind. */
export function summary(file: string, counts: Record<string, number | string>): void {
  console.log(`[reliability] ${file}: ` + Object.entries(counts).map(([k, v]) => `${k}=${v}`).join(" "));
}

/** A plain HTTP/1.1 response, read whole. */
export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Uint8Array;
}

/** An HTTP/1.1 request from a chosen loopback source address (per-IP limits). */
export function httpRequest(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: Uint8Array | string; localAddress?: string; signal?: AbortSignal },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? "POST", headers: opts.headers, localAddress: opts.localAddress, agent: false, signal: opts.signal }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: new Uint8Array(Buffer.concat(chunks)) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(opts.body === undefined ? undefined : Buffer.from(opts.body));
  });
}

/** Writes raw bytes on a fresh TCP connection and collects everything until the server closes (or `ms`). */
export function rawExchange(port: number, data: string | Uint8Array, ms = 5000, localAddress?: string): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: "127.0.0.1", localAddress });
    const chunks: Buffer[] = [];
    let closed = false;
    const t = setTimeout(() => {
      s.destroy();
      resolve({ text: Buffer.concat(chunks).toString("latin1"), closed });
    }, ms);
    s.on("data", (c: Buffer) => chunks.push(c));
    s.on("error", () => {});
    s.on("close", () => {
      closed = true;
      clearTimeout(t);
      resolve({ text: Buffer.concat(chunks).toString("latin1"), closed });
    });
    s.write(typeof data === "string" ? Buffer.from(data, "latin1") : data);
  });
}

/** A hand-framed WebSocket client (RFC 6455, client frames masked), grpc-websockets subprotocol. */
export class RawWebSocket {
  private buf: Buffer = Buffer.alloc(0);
  private readonly frames: { op: number; payload: Buffer }[] = [];
  private readonly wakeup = new Wakeup();
  closed = false;
  /** The close frame's code, if the server sent one. */
  closeCode: number | undefined;

  private constructor(readonly socket: net.Socket) {
    socket.on("data", (c: Buffer) => {
      this.buf = Buffer.concat([this.buf, c]);
      this.parse();
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      this.closed = true;
      this.wakeup.wake();
    });
  }

  /** Opens `path` on `port` (upgrade with `Sec-WebSocket-Protocol: grpc-websockets`). */
  static async open(port: number, path: string, headers: Record<string, string> = {}, localAddress?: string): Promise<RawWebSocket> {
    const socket = net.connect({ port, host: "127.0.0.1", localAddress });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const key = randomBytes(16).toString("base64");
    const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: grpc-websockets\r\n${extra}\r\n`,
    );
    const head = await new Promise<{ status: string; rest: Buffer }>((resolve, reject) => {
      let acc = Buffer.alloc(0);
      const onData = (c: Buffer) => {
        acc = Buffer.concat([acc, c]);
        const end = acc.indexOf("\r\n\r\n");
        if (end < 0) return;
        socket.off("data", onData);
        resolve({ status: acc.subarray(0, end).toString("latin1"), rest: acc.subarray(end + 4) });
      };
      socket.on("data", onData);
      socket.once("close", () => reject(new Error("closed during the upgrade")));
    });
    if (!head.status.startsWith("HTTP/1.1 101")) {
      socket.destroy();
      throw new Error(`upgrade refused: ${head.status.split("\r\n")[0]}`);
    }
    const ws = new RawWebSocket(socket);
    if (head.rest.length) {
      ws.buf = head.rest;
      ws.parse();
    }
    return ws;
  }

  /** The header of one masked binary frame announcing `length` payload bytes (`fin` = final fragment). */
  static frameHeader(length: number, mask: Buffer, opcode = 0x2, fin = true): Buffer {
    const first = (fin ? 0x80 : 0) | opcode;
    if (length < 126) return Buffer.concat([Buffer.from([first, 0x80 | length]), mask]);
    if (length < 65536) {
      const h = Buffer.from([first, 0x80 | 126, 0, 0]);
      h.writeUInt16BE(length, 2);
      return Buffer.concat([h, mask]);
    }
    const h = Buffer.alloc(10);
    h[0] = first;
    h[1] = 0x80 | 127;
    h.writeBigUInt64BE(BigInt(length), 2);
    return Buffer.concat([h, mask]);
  }

  static masked(payload: Uint8Array, mask: Buffer, offset = 0): Buffer {
    const out = Buffer.alloc(payload.length);
    for (let i = 0; i < payload.length; i++) out[i] = payload[i]! ^ mask[(offset + i) & 3]!;
    return out;
  }

  /** Sends one complete binary message. */
  send(payload: Uint8Array): void {
    const mask = randomBytes(4);
    this.socket.write(Buffer.concat([RawWebSocket.frameHeader(payload.length, mask), RawWebSocket.masked(payload, mask)]));
  }

  /** Server data messages so far (binary), concatenated per frame. */
  get data(): Buffer[] {
    return this.frames.filter((f) => f.op === 0x2 || f.op === 0x0).map((f) => f.payload);
  }

  /** Waits until the server closed the WebSocket (close frame) or the TCP connection, or `ms` passed; true when closed. */
  async waitClosed(ms: number): Promise<boolean> {
    return (await this.wakeup.settled(() => (this.closed || this.closeCode !== undefined ? true : undefined), ms)) ?? false;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private parse(): void {
    for (;;) {
      if (this.buf.length < 2) return;
      const op = this.buf[0]! & 0x0f;
      let len = this.buf[1]! & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2));
        off = 10;
      }
      if (this.buf.length < off + len) return;
      const payload = this.buf.subarray(off, off + len);
      this.buf = this.buf.subarray(off + len);
      this.frames.push({ op, payload });
      if (op === 0x8) {
        this.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        // Answer the close handshake, as a browser does; the server then closes the TCP connection.
        const mask = randomBytes(4);
        this.socket.end(Buffer.concat([RawWebSocket.frameHeader(payload.length, mask, 0x8), RawWebSocket.masked(payload, mask)]));
        this.wakeup.wake();
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// One raw unary-shaped call on each wire protocol (what a browser or a plain client sends).

/** How a raw call ended: an HTTP status when refused outright, else a gRPC code (0 = OK). */
export interface Outcome {
  http?: number;
  code?: number;
  message?: string;
  /** Response messages (raw bytes). */
  data?: Uint8Array[];
  /** grpc-websockets: the WebSocket close code. */
  close?: number;
}

/** The protocols {@link rawCall} speaks. */
export const wireProtocols = ["connect", "connect-stream", "grpc-web", "grpc-web-text", "grpc-websockets", "grpc"] as const;
export type WireName = (typeof wireProtocols)[number];

const codeByName = (name: string): number => {
  const camel = name.replace(/(^|_)(\w)/g, (_m, _u, c: string) => c.toUpperCase()) as keyof typeof Code;
  return (Code[camel] as number | undefined) ?? -1;
};

/** A gRPC-Web body (binary) → messages and status (trailer frame, or the headers when trailers-only). */
export function grpcWebOutcome(headers: Headers, body: Uint8Array): Outcome {
  const r = grpcWebResult(headers, body);
  return { code: r.status ? r.code : -1, message: r.message, data: r.data };
}

/**
 * One call with one request message on `protocol`; `headers` become metadata (the grpc-websockets
 * header frame). Never throws for a refused call: the outcome says how it was refused.
 */
export async function rawCall(protocol: WireName, baseUrl: string, path: string, msg: Uint8Array, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Outcome> {
  const url = baseUrl + path;
  switch (protocol) {
    case "connect": {
      const r = await fetch(url, { method: "POST", headers: { "content-type": "application/proto", ...headers }, body: msg as Uint8Array<ArrayBuffer>, signal });
      const body = new Uint8Array(await r.arrayBuffer());
      if (r.status === 200) return { http: 200, code: 0, data: [body] };
      if (!(r.headers.get("content-type") ?? "").startsWith("application/json")) return { http: r.status };
      const j = JSON.parse(new TextDecoder().decode(body)) as { code: string; message?: string };
      return { http: r.status, code: codeByName(j.code), message: j.message };
    }
    case "connect-stream": {
      const r = await fetch(url, { method: "POST", headers: { "content-type": "application/connect+proto", ...headers }, body: envelope(msg), signal });
      const body = new Uint8Array(await r.arrayBuffer());
      if (r.status !== 200) return { http: r.status };
      const fs = envelopes(body);
      const end = fs.at(-1);
      if (!end || !(end.flags & 0x02)) return { http: 200, code: -1 };
      const j = JSON.parse(new TextDecoder().decode(end.data)) as { error?: { code: string; message?: string } };
      return { http: 200, code: j.error ? codeByName(j.error.code) : 0, message: j.error?.message, data: fs.filter((f) => !(f.flags & 0x02)).map((f) => f.data) };
    }
    case "grpc-web": {
      const r = await fetch(url, { method: "POST", headers: { "content-type": "application/grpc-web+proto", "x-grpc-web": "1", ...headers }, body: envelope(msg), signal });
      const body = new Uint8Array(await r.arrayBuffer());
      if (r.status !== 200) return { http: r.status };
      return { http: 200, ...grpcWebOutcome(r.headers, body) };
    }
    case "grpc-web-text": {
      const r = await fetch(url, { method: "POST", headers: { "content-type": "application/grpc-web-text", "x-grpc-web": "1", ...headers }, body: b64(envelope(msg)), signal });
      const text = await r.text();
      if (r.status !== 200) return { http: r.status };
      return { http: 200, ...grpcWebOutcome(r.headers, fromGrpcWebText(text)) };
    }
    case "grpc-websockets": {
      const c = new WsCall(baseUrl.replace(/^http/, "ws") + path);
      signal?.addEventListener("abort", () => c.ws.terminate(), { once: true });
      try {
        await c.start(headers, [msg], true);
      } catch {
        return { http: c.refused ?? -1 };
      }
      const closed = await c.closed;
      const hdrs = c.frames.filter((f): f is Extract<typeof f, { kind: "header" }> => f.kind === "header");
      const last = hdrs.at(-1);
      const s = last?.md.get("grpc-status");
      return { code: s === undefined ? -1 : Number(s), message: decodeURIComponent(last?.md.get("grpc-message") ?? ""), data: c.data, close: closed.code };
    }
    case "grpc": {
      const session = http2.connect(baseUrl);
      session.on("error", () => {});
      try {
        return await new Promise<Outcome>((resolve, reject) => {
          const req = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers", ...headers }, { signal });
          let out: Outcome = { code: -1 };
          const chunks: Buffer[] = [];
          req.on("response", (h) => {
            if (h[":status"] !== 200) out = { http: Number(h[":status"]) };
            else if (h["grpc-status"] !== undefined) out = { http: 200, code: Number(h["grpc-status"]), message: decodeURIComponent(String(h["grpc-message"] ?? "")) };
          });
          req.on("trailers", (t) => {
            out = { http: 200, code: Number(t["grpc-status"]), message: decodeURIComponent(String(t["grpc-message"] ?? "")) };
          });
          req.on("data", (c: Buffer) => chunks.push(c));
          req.on("end", () => {
            try {
              resolve({ ...out, data: envelopes(new Uint8Array(Buffer.concat(chunks))).map((f) => f.data) });
            } catch (e) {
              reject(e); // a truncated envelope: the call fails visibly
            }
          });
          req.on("error", (e) => resolve({ http: -1, message: String(e) }));
          req.end(envelope(msg));
        });
      } finally {
        session.close();
      }
    }
  }
}

/** `EDGE_SIGNAL_SOAK=1` runs the long variants: more cases, longer hang guards. */
export const SOAK = process.env.EDGE_SIGNAL_SOAK === "1";
/** `n` cases, or `n × factor` in a soak run. */
export const scaled = (n: number, factor = 10): number => (SOAK ? n * factor : n);
/** A test timeout that grows with {@link scaled}. */
export const budget = (ms: number, factor = 10): number => (SOAK ? ms * factor * 2 : ms);
