/**
 * A minimal hand-framed WebSocket client (Node test process; RFC 6455, client frames masked, the
 * grpc-websockets subprotocol), to send what the `ws` package refuses to: a frame header announcing
 * more bytes than ever follow, a 1 MB header line.
 */

import { randomBytes } from "node:crypto";
import net from "node:net";
import { Wakeup } from "./wait.js";

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
