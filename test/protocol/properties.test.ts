/**
 * Property tests (fast-check, 10,000 cases each): the envelope parser, the base64 text decoder, the
 * header-block parser and the grpc-websockets session never throw anything but a ConnectError, never
 * hang, and round-trip what they should.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ConnectError } from "@connectrpc/connect";
import { EnvelopeDecoder, encodeEnvelope, Base64Decoder, base64EncodeToBytes, parseHeaderBlock, type Envelope } from "../../src/protocol/index.js";
import { createGrpcWebsocketsSession } from "../../src/protocol-grpc-websockets/index.js";
import type { CallHandler } from "../../src/core/call.js";

const numRuns = 10_000;

/** Splits bytes at the given cut points (any order, any values). */
function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  out.push(bytes.subarray(prev));
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Runs f; returns "ok", or "connect" for a ConnectError; rethrows anything else. */
function only<T>(f: () => T): T | "connect" {
  try {
    return f();
  } catch (e) {
    if (e instanceof ConnectError) return "connect";
    throw e;
  }
}

test("envelope parser: arbitrary bytes in arbitrary chunks → envelopes or a ConnectError", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(), { maxLength: 8 }), fc.integer({ min: 0, max: 200 }), (bytes, cuts, max) => {
      only(() => {
        const d = new EnvelopeDecoder(max);
        let total = 0;
        for (const chunk of split(bytes, cuts)) {
          d.push(chunk);
          for (let e = d.next(); e; e = d.next()) {
            assert.ok(e.data.length <= max);
            total += 5 + e.data.length;
          }
        }
        d.end();
        assert.equal(total, bytes.length, "every byte belongs to an envelope");
      });
    }),
    { numRuns },
  );
});

test("envelope parser: encoded messages split anywhere decode to the same messages", () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ flags: fc.integer({ min: 0, max: 255 }), data: fc.uint8Array({ maxLength: 40 }) }), { maxLength: 6 }),
      fc.array(fc.nat(), { maxLength: 10 }),
      (msgs, cuts) => {
        const d = new EnvelopeDecoder(40);
        const out: Envelope[] = [];
        for (const chunk of split(concat(msgs.map((m) => encodeEnvelope(m.flags, m.data))), cuts)) {
          d.push(chunk);
          for (let e = d.next(); e; e = d.next()) out.push(e);
        }
        d.end();
        assert.deepEqual(out.map((e) => [e.flags, [...e.data]]), msgs.map((m) => [m.flags, [...m.data]]));
      },
    ),
    { numRuns },
  );
});

test("base64 text decoder: arbitrary bytes in arbitrary chunks → bytes or a ConnectError", () => {
  const b64ish = fc.uint8Array({ maxLength: 120 }).map((a) => a.map((b) => (b < 200 ? "AZaz09+/-_=\r\n "[b % 14]!.charCodeAt(0) : b)));
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 120 }), b64ish), fc.array(fc.nat(), { maxLength: 8 }), (bytes, cuts) => {
      only(() => {
        const d = new Base64Decoder();
        for (const chunk of split(bytes, cuts)) d.push(chunk);
        d.end();
      });
    }),
    { numRuns },
  );
});

test("base64 text decoder: padded segments, split anywhere (not aligned to 4), decode to the original", () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 30 }), { maxLength: 6 }), fc.array(fc.nat(), { maxLength: 10 }), (segments, cuts) => {
      const text = concat(segments.map(base64EncodeToBytes));
      const d = new Base64Decoder();
      const parts = split(text, cuts).map((c) => d.push(c));
      parts.push(d.end());
      assert.deepEqual([...concat(parts)], [...concat(segments)]);
    }),
    { numRuns },
  );
});

test("header-block parser: arbitrary bytes → metadata or a ConnectError", () => {
  const headerish = fc
    .array(fc.tuple(fc.stringMatching(/^[A-Za-z0-9\-_ :]{0,12}$/), fc.string({ maxLength: 12 })), { maxLength: 6 })
    .map((lines) => new TextEncoder().encode(lines.map(([k, v]) => `${k}: ${v}\r\n`).join("")));
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), headerish), fc.integer({ min: 0, max: 300 }), (bytes, max) => {
      const r = only(() => parseHeaderBlock(bytes, max));
      if (r !== "connect") {
        for (const [k, values] of r.metadata) {
          assert.match(k, /^[a-z0-9!#$%&'*+\-.^_`|~]+$/);
          for (const v of values) assert.match(v, /^[\x20-\x7e]*$/);
        }
      }
    }),
    { numRuns },
  );
});

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
