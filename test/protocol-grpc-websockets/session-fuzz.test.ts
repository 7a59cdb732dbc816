/**
 * Property test (fast-check, 10,000 cases) of the grpc-websockets session
 * (src/protocol-grpc-websockets/session.ts): arbitrary message sequences never throw, the call always
 * ends, and nothing is sent after the close.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ConnectError } from "@connectrpc/connect";
import { createGrpcWebsocketsSession } from "../../src/protocol-grpc-websockets/index.js";
import type { CallHandler } from "../../src/core/call.js";

const numRuns = 10_000;

test("grpc-websockets session: arbitrary message sequences never throw, and the call always ends", async () => {
  const frame = (flags: number, msg: Uint8Array, delta: number) => {
    const f = new Uint8Array(6 + msg.length);
    f[1] = flags;
    new DataView(f.buffer).setUint32(2, Math.max(0, msg.length + delta));
    f.set(msg, 6);
    return f;
  };
  const wsMessage = fc.oneof(
    { arbitrary: fc.uint8Array({ maxLength: 40 }), weight: 1 },
    { arbitrary: fc.string({ maxLength: 10 }), weight: 1 },
    { arbitrary: fc.constant(Uint8Array.of(0x01)), weight: 1 },
    { arbitrary: fc.tuple(fc.constantFrom(0, 0, 0, 1, 2), fc.uint8Array({ maxLength: 30 }), fc.constantFrom(0, 0, 0, -1, 1)).map(([f, m, d]) => frame(f, m, d)), weight: 3 },
    { arbitrary: fc.uint8Array({ maxLength: 20 }).map((m) => frame(0, m, 0).buffer as ArrayBuffer), weight: 4 },
  );
  const validHeader = fc
    .array(fc.tuple(fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/), fc.stringMatching(/^[ -~]{0,10}$/)), { maxLength: 3 })
    .map((md) => new TextEncoder().encode(["content-type: application/grpc-web+proto", "x-grpc-web: 1", ...md.map(([k, v]) => `${k}: ${v}`)].join("\r\n") + "\r\n"));
  const first = fc.oneof(
    { arbitrary: validHeader, weight: 6 },
    { arbitrary: fc.uint8Array({ maxLength: 60 }), weight: 2 },
    { arbitrary: fc.string({ maxLength: 5 }), weight: 1 },
  );
  await fc.assert(
    fc.asyncProperty(first, fc.array(wsMessage, { maxLength: 8 }), fc.boolean(), async (head, rest, clientCloses) => {
      let closedByServer = false;
      let sentAfterClose = false;
      const socket = {
        send: () => {
          if (closedByServer) sentAfterClose = true;
        },
        close: () => {
          closedByServer = true;
        },
      };
      let done: Promise<void> | undefined;
      const handler: CallHandler = (call, res) => {
        done = (async () => {
          res.header(new Map());
          try {
            for await (const m of call.requests) await res.message(m);
            res.end(undefined, new Map());
          } catch (e) {
            res.end(ConnectError.from(e), new Map());
          }
        })();
        return done;
      };
      const s = createGrpcWebsocketsSession(socket, "/a.B/C", handler, { maxMessageBytes: 25, maxMetadataBytes: 160 });
      for (const m of [head, ...rest]) s.onMessage(m); // throws → the property fails
      if (clientCloses || !closedByServer) s.onClose(1005);
      if (done) await done; // never hangs: the queue is ended or failed by now
      assert.equal(sentAfterClose, false, "nothing is sent after the close");
    }),
    { numRuns },
  );
});
