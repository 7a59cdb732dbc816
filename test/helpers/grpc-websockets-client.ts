/**
 * A byte-level `grpc-websockets` client for tests (what improbable's WebsocketTransport sends):
 * first message = header block, then `0x00` + gRPC frame per message, `0x01` half-close. It parses the
 * server's 0x80 header/trailer frames and data frames and reports the final status.
 */
import { WebSocket } from "ws";

/** What the server sent on one call. */
export interface GrpcWsResult {
  headers: Map<string, string>;
  trailers: Map<string, string>;
  messages: Uint8Array[];
  status: number | undefined;
  statusMessage: string | undefined;
  closeCode: number;
}

/** One open call. */
export interface GrpcWsCall {
  readonly socket: WebSocket;
  send(message: Uint8Array): void;
  halfClose(): void;
  /** Resolves with each message as it arrives (in order). */
  nextMessage(): Promise<Uint8Array>;
  /** Resolves when the socket closes. */
  readonly done: Promise<GrpcWsResult>;
}

function parseBlock(bytes: Uint8Array): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of new TextDecoder().decode(bytes).split("\r\n")) {
    const i = line.indexOf(":");
    if (i > 0) out.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
  return out;
}

/** Opens `wsUrl + path` with the grpc-websockets subprotocol and sends `metadata` as the first frame. */
export function openGrpcWs(url: string, metadata: Record<string, string> = {}, opts: { origin?: string } = {}): Promise<GrpcWsCall> {
  const socket = new WebSocket(url, ["grpc-websockets"], { headers: opts.origin ? { origin: opts.origin } : {} });
  socket.binaryType = "nodebuffer";
  const result: GrpcWsResult = { headers: new Map(), trailers: new Map(), messages: [], status: undefined, statusMessage: undefined, closeCode: 0 };
  let buf = new Uint8Array(0);
  let headerFrames = 0;
  const waiting: ((m: Uint8Array) => void)[] = [];
  const queued: Uint8Array[] = [];
  const done = new Promise<GrpcWsResult>((resolve) => {
    socket.on("message", (data: Buffer) => {
      const next = new Uint8Array(buf.length + data.length);
      next.set(buf);
      next.set(data, buf.length);
      buf = next;
      while (buf.length >= 5) {
        const len = new DataView(buf.buffer, buf.byteOffset).getUint32(1);
        if (buf.length < 5 + len) break;
        const flag = buf[0]!;
        const body = buf.slice(5, 5 + len);
        buf = buf.slice(5 + len);
        if (flag & 0x80) {
          const block = parseBlock(body);
          if (headerFrames++ === 0) result.headers = block;
          else result.trailers = block;
        } else {
          result.messages.push(body);
          const w = waiting.shift();
          if (w) w(body);
          else queued.push(body);
        }
      }
    });
    socket.on("close", (code) => {
      result.closeCode = code;
      const t = result.trailers.size ? result.trailers : result.headers;
      if (t.has("grpc-status")) {
        result.status = Number(t.get("grpc-status"));
        const m = t.get("grpc-message");
        result.statusMessage = m === undefined ? undefined : decodeURIComponent(m);
      }
      resolve(result);
    });
  });
  return new Promise((resolve, reject) => {
    socket.once("error", reject);
    socket.once("unexpected-response", (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    socket.once("open", () => {
      const lines = Object.entries({ "content-type": "application/grpc-web+proto", "x-grpc-web": "1", ...metadata })
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join("");
      socket.send(Buffer.from(lines));
      resolve({
        socket,
        send(message) {
          const frame = Buffer.alloc(6 + message.length);
          frame[0] = 0;
          frame[1] = 0;
          frame.writeUInt32BE(message.length, 2);
          frame.set(message, 6);
          socket.send(frame);
        },
        halfClose() {
          socket.send(Buffer.from([1]));
        },
        nextMessage() {
          const q = queued.shift();
          if (q) return Promise.resolve(q);
          return new Promise((r) => waiting.push(r));
        },
        done,
      });
    });
  });
}
