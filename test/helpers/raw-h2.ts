/**
 * A hand-framed HTTP/2 client for the reliability suite (test process only): it sends exactly the
 * frames a test asks for — a tiny initial window and never a WINDOW_UPDATE (a client that never
 * reads), HEADERS then RST_STREAM at once (rapid reset) — which Node's own client will not do. It
 * reads every frame the server sends (so TCP never stalls) and records, per stream, what arrived;
 * it does not decode HPACK (a HEADERS frame carrying END_STREAM before any DATA is a trailers-only
 * answer: the call was refused or failed at once).
 */
import net from "node:net";
import { Wakeup } from "./wait.js";

const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
const enum Type {
  Data = 0x0,
  Headers = 0x1,
  RstStream = 0x3,
  Settings = 0x4,
  Ping = 0x6,
  GoAway = 0x7,
}
const EndStream = 0x1;
const EndHeaders = 0x4;
const Ack = 0x1;

/** What the server sent on one stream. */
export interface RawStreamState {
  /** A HEADERS frame arrived (response headers or a trailers-only answer). */
  headers: boolean;
  /** The first HEADERS frame carried END_STREAM: a trailers-only answer (refused, or failed at once). */
  trailersOnly: boolean;
  /** DATA bytes received. */
  dataBytes: number;
  /** The RST_STREAM error code, if the server reset the stream. */
  rstCode?: number;
  /** The server ended its side (END_STREAM). */
  ended: boolean;
}

function frame(type: number, flags: number, stream: number, payload: Uint8Array = new Uint8Array(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream & 0x7fffffff, 5);
  return Buffer.concat([h, payload]);
}

/** HPACK: an integer with an `n`-bit prefix (RFC 7541 §5.1). */
function hpackInt(value: number, n: number, first: number): number[] {
  const max = (1 << n) - 1;
  if (value < max) return [first | value];
  const out = [first | max];
  value -= max;
  while (value >= 128) {
    out.push((value & 0x7f) | 0x80);
    value >>= 7;
  }
  out.push(value);
  return out;
}

/** HPACK: a header block of literals without indexing, raw strings (RFC 7541 §6.2.2). */
function hpack(headers: [string, string][]): Buffer {
  const parts: Buffer[] = [];
  for (const [k, v] of headers) {
    const name = Buffer.from(k.toLowerCase(), "latin1");
    const value = Buffer.from(v, "latin1");
    parts.push(Buffer.from([0x00]), Buffer.from(hpackInt(name.length, 7, 0)), name, Buffer.from(hpackInt(value.length, 7, 0)), value);
  }
  return Buffer.concat(parts);
}

/** One hand-framed HTTP/2 connection (h2c, prior knowledge). */
export class RawH2 {
  /** Per stream id: what the server sent. */
  readonly streams = new Map<number, RawStreamState>();
  /** The error code of the first GOAWAY the server sent. */
  goAway: number | undefined;
  closed = false;
  private nextId = 1;
  private buf: Buffer = Buffer.alloc(0);
  private readonly wakeup = new Wakeup();

  private constructor(readonly socket: net.Socket) {
    socket.on("data", (c: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, c]) : c;
      this.parse();
      this.wakeup.wake();
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      this.closed = true;
      this.wakeup.wake();
    });
  }

  /**
   * Connects to `port` on 127.0.0.1 (from `localAddress`, e.g. 127.0.0.2 for another client address)
   * and sends the preface with SETTINGS: `initialWindowSize` for every stream (default 65 535).
   */
  static async connect(port: number, opts: { initialWindowSize?: number; localAddress?: string } = {}): Promise<RawH2> {
    const socket = net.connect({ port, host: "127.0.0.1", localAddress: opts.localAddress });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const settings = Buffer.alloc(12);
    settings.writeUInt16BE(0x2, 0); // ENABLE_PUSH
    settings.writeUInt32BE(0, 2);
    settings.writeUInt16BE(0x4, 6); // INITIAL_WINDOW_SIZE
    settings.writeUInt32BE(opts.initialWindowSize ?? 65_535, 8);
    socket.write(Buffer.concat([preface, frame(Type.Settings, 0, 0, settings)]));
    return new RawH2(socket);
  }

  /**
   * Opens a POST stream on `path` with `headers` and, unless `body` is undefined, one DATA frame with
   * END_STREAM (without a body the stream is left open: no half-close). Returns the stream id.
   */
  request(path: string, headers: Record<string, string>, body?: Uint8Array): number {
    const { id, frames } = this.requestFrames(path, headers, body);
    this.socket.write(frames);
    return id;
  }

  /** The frames of {@link request} and their stream id (taken now), to batch many into one write. */
  requestFrames(path: string, headers: Record<string, string>, body?: Uint8Array): { id: number; frames: Buffer } {
    const id = this.nextId;
    this.nextId += 2;
    this.streams.set(id, { headers: false, trailersOnly: false, dataBytes: 0, ended: false });
    const block = hpack([[":method", "POST"], [":scheme", "http"], [":authority", "127.0.0.1"], [":path", path], ...Object.entries(headers)]);
    const hs = frame(Type.Headers, EndHeaders, id, block);
    return { id, frames: body === undefined ? hs : Buffer.concat([hs, frame(Type.Data, EndStream, id, body)]) };
  }

  /** RST_STREAM frame for `id` (CANCEL by default). */
  static rstFrame(id: number, code = 0x8): Buffer {
    const p = Buffer.alloc(4);
    p.writeUInt32BE(code, 0);
    return frame(Type.RstStream, 0, id, p);
  }

  /** Resolves when `done()` holds (checked on every frame and on close), or rejects after `ms`. */
  async until(done: () => boolean, ms: number, what: string): Promise<void> {
    await this.wakeup.until(() => {
      if (done()) return true;
      if (this.closed) throw new Error(`${what}: the connection closed first`);
      return undefined;
    }, ms, what);
  }

  destroy(): void {
    this.socket.destroy();
  }

  private parse(): void {
    while (this.buf.length >= 9) {
      const len = this.buf.readUIntBE(0, 3);
      if (this.buf.length < 9 + len) return;
      const type = this.buf[3]!;
      const flags = this.buf[4]!;
      const id = this.buf.readUInt32BE(5) & 0x7fffffff;
      const payload = this.buf.subarray(9, 9 + len);
      this.buf = this.buf.subarray(9 + len);
      const s = this.streams.get(id);
      switch (type) {
        case Type.Settings:
          if (!(flags & Ack)) this.socket.write(frame(Type.Settings, Ack, 0));
          break;
        case Type.Ping:
          if (!(flags & Ack)) this.socket.write(frame(Type.Ping, Ack, 0, payload));
          break;
        case Type.GoAway:
          this.goAway ??= payload.readUInt32BE(4); // the first: a graceful close may follow with NO_ERROR
          break;
        case Type.Headers:
          if (s) {
            if (!s.headers && flags & EndStream) s.trailersOnly = true;
            s.headers = true;
            if (flags & EndStream) s.ended = true;
          }
          break;
        case Type.Data:
          if (s) {
            s.dataBytes += len;
            if (flags & EndStream) s.ended = true;
          }
          break;
        case Type.RstStream:
          if (s) s.rstCode = payload.readUInt32BE(0);
          break;
      }
    }
  }
}
