/**
 * The grpc-websockets test client (Node test process, over the `ws` package): improbable-eng's
 * protocol byte by byte, as ion-sdk-js and @improbable-eng/grpc-web send it — the header block as its
 * own WebSocket message, then `0x00` + a gRPC-Web envelope per request message, `0x01` to half-close —
 * and the server's frames (`0x80` header/trailer blocks, `0x00` data) read from its WebSocket messages
 * as improbable's client reads them. Every wait has a deadline. Written from the protocol, not from the
 * gateway's code.
 */
import assert from "node:assert/strict";
import type { Code } from "@connectrpc/connect";
import { WebSocket } from "ws";
import { headerBlock } from "./grpc-web.js";
import { within, Wakeup } from "./wait.js";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** The client's header frame: `k: v\r\n` lines, sent as its own WebSocket message. */
export const wsHeaderFrame = (md: Record<string, string> = {}) =>
  enc.encode(Object.entries({ "content-type": "application/grpc-web+proto", "x-grpc-web": "1", ...md }).map(([k, v]) => `${k}: ${v}\r\n`).join(""));

/**
 * A client data frame: `0x00`, then a gRPC-Web envelope (flags, u32 length, message). `flags` and
 * `lengthDelta` (added to the stated length) make malformed frames for the parser tests.
 */
export function wsDataFrame(msg: Uint8Array, flags = 0, lengthDelta = 0): Uint8Array<ArrayBuffer> {
  const f = new Uint8Array(6 + msg.length);
  f[1] = flags;
  new DataView(f.buffer).setUint32(2, msg.length + lengthDelta);
  f.set(msg, 6);
  return f;
}

/** The client's half-close: one `0x01` byte. */
export const wsHalfClose = Uint8Array.of(0x01);

/** A frame the server sent: a header/trailer block (its text and fields) or one response message. */
export type WsFrame = { kind: "header"; text: string; md: Map<string, string>; data?: undefined } | { kind: "data"; data: Uint8Array; text?: undefined; md?: undefined };

/** The complete server frames at the start of `bytes`, and the bytes of an incomplete last one. */
export function serverFrames(bytes: Uint8Array): { frames: WsFrame[]; rest: Uint8Array<ArrayBuffer> } {
  const frames: WsFrame[] = [];
  let i = 0;
  while (i + 5 <= bytes.length) {
    const flags = bytes[i]!;
    const len = new DataView(bytes.buffer, bytes.byteOffset + i + 1, 4).getUint32(0);
    if (i + 5 + len > bytes.length) break;
    const payload = bytes.slice(i + 5, i + 5 + len);
    i += 5 + len;
    if (flags & 0x80) {
      const text = dec.decode(payload);
      frames.push({ kind: "header", text, md: headerBlock(text) });
    } else frames.push({ kind: "data", data: payload });
  }
  return { frames, rest: new Uint8Array(bytes.subarray(i)) };
}

/**
 * The status block (the last header block holding `grpc-status`) and the messages in a server's
 * WebSocket messages, read with some other socket (test/helpers/raw-websocket.ts). Every
 * frame must be complete.
 */
export function grpcWsFrames(messages: Uint8Array[]): { trailers: Map<string, string> | undefined; data: Uint8Array[] } {
  const { frames, rest } = serverFrames(new Uint8Array(Buffer.concat(messages)));
  assert.equal(rest.length, 0, "the server's last frame is complete");
  const trailers = frames.filter((f) => f.kind === "header" && f.md.has("grpc-status")).at(-1)?.md;
  return { trailers, data: frames.flatMap((f) => (f.kind === "data" ? [f.data] : [])) };
}

/** A finished call: response headers, messages, trailers (the last header frame), status and close code. */
export interface WsResult {
  headers: Map<string, string>;
  data: Uint8Array[];
  trailers: Map<string, string>;
  code: Code;
  message: string;
  close: number;
  /** Whether the trailer frame was the last frame. */
  trailersLast: boolean;
}

/** Default deadline of the waits for a frame or message, and of the wait for the close in `result()`. */
const waitMs = 20_000;
const closeMs = 60_000;

/** A `ws` client for one grpc-websockets call, recording every server frame and the close. */
export class WsCall {
  readonly ws: WebSocket;
  /** Frames completed by each WebSocket message, one entry per message. */
  readonly messages: WsFrame[][] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  /** HTTP status if the upgrade was refused. */
  refused: number | undefined;
  /** Whether the response header frame was the last bytes of its WebSocket message (improbable needs it). */
  headerEndedMessage: boolean | undefined;
  /** WebSocket messages that ended inside a frame (improbable's client allows it; the gateway sends whole frames). */
  splitFrames = 0;
  /** WebSocket messages received before the close (all of them, when the close came last). */
  private messagesAtClose: number | undefined;
  private readonly wakeup = new Wakeup();
  private isClosed = false;
  /** Frames handed out by {@link next} and {@link nextMessage}. */
  private taken = 0;

  constructor(url: string, opts: { origin?: string; protocols?: string[] } = {}) {
    this.ws = new WebSocket(url, opts.protocols ?? ["grpc-websockets"], opts.origin ? { origin: opts.origin } : {});
    this.opened = new Promise((resolve, reject) => {
      this.ws.once("open", () => resolve());
      this.ws.once("error", reject);
      this.ws.once("unexpected-response", (_req, res) => {
        this.refused = res.statusCode;
        res.resume();
        reject(new Error(`HTTP ${res.statusCode}`));
        this.ws.terminate();
      });
    });
    this.opened.catch(() => {});
    // Improbable's client parses WS messages as a stream: data frames may be split or batched freely;
    // only the response header frame must end its message (bytes after it wait for the next message).
    let buf = new Uint8Array(0);
    this.ws.on("message", (data, binary) => {
      assert.ok(binary, "server messages are binary");
      const m = new Uint8Array(data as Buffer);
      const all = new Uint8Array(buf.length + m.length);
      all.set(buf);
      all.set(m, buf.length);
      const { frames, rest } = serverFrames(all);
      if (rest.length > 0) this.splitFrames++;
      const hadHeader = this.frames.some((f) => f.kind === "header");
      const firstHeader = frames.findIndex((f) => f.kind === "header");
      if (!hadHeader && firstHeader >= 0) this.headerEndedMessage = firstHeader === frames.length - 1 && rest.length === 0;
      buf = rest;
      this.messages.push(frames);
      this.wakeup.wake();
    });
    this.closed = new Promise((resolve) =>
      this.ws.once("close", (code, reason) => {
        this.isClosed = true;
        this.messagesAtClose = this.messages.length;
        this.wakeup.wake();
        resolve({ code, reason: reason.toString() });
      }),
    );
  }

  /** Opens, sends the header frame (alone), then each message as a data frame; half-closes if asked. */
  async start(md: Record<string, string> = {}, msgs: Uint8Array[] = [], halfClose = false): Promise<this> {
    await this.opened;
    this.ws.send(wsHeaderFrame(md));
    for (const m of msgs) this.ws.send(wsDataFrame(m));
    if (halfClose) this.ws.send(wsHalfClose);
    return this;
  }

  /** Sends one request message (a data frame). */
  send(msg: Uint8Array): void {
    this.ws.send(wsDataFrame(msg));
  }

  /** Sends `bytes` as they are, as one WebSocket message (a string as a text message). */
  sendRaw(bytes: Uint8Array | string): void {
    this.ws.send(bytes);
  }

  halfClose(): void {
    this.ws.send(wsHalfClose);
  }

  close(): void {
    this.ws.close();
  }

  get frames(): WsFrame[] {
    return this.messages.flat();
  }

  /** Response messages received so far. */
  get data(): Uint8Array[] {
    return this.frames.flatMap((f) => (f.kind === "data" ? [f.data] : []));
  }

  /** Waits until `n` WebSocket messages arrived; returns their frames, one entry per message. */
  waitMessages(n: number, ms = waitMs): Promise<WsFrame[][]> {
    return this.until(() => (this.messages.length >= n ? this.messages : undefined), ms, `${n} WebSocket messages`);
  }

  /** Waits until `n` response messages arrived. */
  waitData(n: number, ms = waitMs): Promise<Uint8Array[]> {
    return this.until(() => {
      const d = this.data;
      return d.length >= n ? d : undefined;
    }, ms, `${n} response messages`);
  }

  /** The next frame not yet handed out (header or data), in order; undefined once the call is closed and none is left. */
  async next(ms = waitMs): Promise<WsFrame | undefined> {
    const f = await this.until(() => this.frames[this.taken] ?? (this.isClosed ? null : undefined), ms, "a frame from the server", true);
    if (f === null) return undefined;
    this.taken++;
    return f;
  }

  /** The next response message not yet handed out (header frames are skipped). */
  async nextMessage(ms = waitMs): Promise<Uint8Array> {
    for (;;) {
      const f = await this.next(ms);
      if (f === undefined) throw new Error(`closed after ${this.data.length} messages`);
      if (f.kind === "data") return f.data;
    }
  }

  /**
   * Waits for the close; returns the response headers, messages, trailers (the last header frame,
   * holding grpc-status) and the close code.
   */
  async result(ms = closeMs): Promise<WsResult> {
    const close = await within(this.closed, ms, "the server's close of the WebSocket");
    const frames = this.frames;
    const hdrs = frames.filter((f): f is Extract<WsFrame, { kind: "header" }> => f.kind === "header");
    const last = hdrs.at(-1);
    assert.ok(last?.md.has("grpc-status"), `a trailer frame with grpc-status (got ${JSON.stringify(hdrs.map((h) => h.text))})`);
    assert.ok(last);
    const first = hdrs.length > 1 ? hdrs[0]! : last;
    if (hdrs.length > 1) assert.equal(this.headerEndedMessage, true, "the response header frame ends its WebSocket message");
    return {
      headers: first.md,
      data: this.data,
      trailers: last.md,
      code: Number(last.md.get("grpc-status")) as Code,
      message: decodeURIComponent(last.md.get("grpc-message") ?? ""),
      close: close.code,
      trailersLast: frames.at(-1) === last,
    };
  }

  /**
   * Waits for the close; returns the frames of each WebSocket message as they came, for tests of the
   * framing itself. Every server frame must have come whole in one message.
   */
  async wire(ms = closeMs): Promise<{ messages: WsFrame[][]; close: { code: number; reason: string }; closeLast: boolean }> {
    const close = await within(this.closed, ms, "the server's close of the WebSocket");
    assert.equal(this.splitFrames, 0, "complete frames in each message");
    return { messages: this.messages, close, closeLast: this.messagesAtClose === this.messages.length };
  }

  /**
   * Resolves with `get()` once it is not undefined (checked on every message and on the close). Fails
   * after `ms`, or when the WebSocket closed first unless `afterClose` (then `get` decides).
   */
  private until<T>(get: () => T | undefined, ms: number, what: string, afterClose = false): Promise<T> {
    return this.wakeup.until(() => {
      const v = get();
      if (v === undefined && this.isClosed && !afterClose) throw new Error(`${what}: closed after ${this.data.length} messages`);
      return v;
    }, ms, what);
  }
}

/** One complete grpc-websockets call: header frame, messages, half-close; then the result. */
export async function wsCall(wsUrl: string, path: string, md: Record<string, string>, msgs: Uint8Array[], opts: { origin?: string } = {}): Promise<WsResult> {
  const c = new WsCall(wsUrl + path, opts);
  await c.start(md, msgs, true);
  return c.result();
}
