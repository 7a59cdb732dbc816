/**
 * The envelope decoder (src/protocol/envelope.ts): every split point, zero-copy within a chunk,
 * an oversized length refused at the prefix, a premature end; readEnvelopes and the TransformStream agree.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Code } from "@connectrpc/connect";
import { EnvelopeDecoder, encodeEnvelope, readEnvelopes, createEnvelopeDecoderStream, type Envelope } from "../../src/protocol/index.js";
import { isCode } from "../helpers/codes.js";

test("envelope decoder: every split point, zero-copy within a chunk, copy across chunks", () => {
  const a = encodeEnvelope(0, Uint8Array.of(1, 2, 3));
  const b = encodeEnvelope(1, new Uint8Array(0));
  const c = encodeEnvelope(0x80, Uint8Array.of(9, 8, 7, 6, 5));
  const all = new Uint8Array([...a, ...b, ...c]);
  for (let i = 0; i <= all.length; i++) {
    for (let j = i; j <= all.length; j++) {
      const d = new EnvelopeDecoder(100);
      const out: Envelope[] = [];
      for (const chunk of [all.subarray(0, i), all.subarray(i, j), all.subarray(j)]) {
        d.push(chunk);
        for (let e = d.next(); e; e = d.next()) out.push(e);
      }
      d.end();
      assert.deepEqual(out.map((e) => [e.flags, [...e.data]]), [[0, [1, 2, 3]], [1, []], [0x80, [9, 8, 7, 6, 5]]]);
    }
  }
  const d = new EnvelopeDecoder(100);
  d.push(all);
  assert.equal(d.next()!.data.buffer, all.buffer, "subarray of the chunk, not a copy");
});

test("envelope decoder: an oversized length fails at the prefix, before any payload is buffered", () => {
  const d = new EnvelopeDecoder(10);
  d.push(Uint8Array.of(0, 0, 0, 0)); // 4 of 5 prefix bytes
  assert.equal(d.next(), undefined);
  d.push(Uint8Array.of(11)); // length 11 > 10, no payload yet
  assert.throws(() => d.next(), isCode(Code.ResourceExhausted));
  const e = new EnvelopeDecoder(10);
  e.push(Uint8Array.of(0, 0xff, 0xff, 0xff, 0xff));
  assert.throws(() => e.next(), isCode(Code.ResourceExhausted));
});

test("envelope decoder: premature end is INVALID_ARGUMENT; readEnvelopes and the TransformStream agree", async () => {
  const d = new EnvelopeDecoder(100);
  d.push(Uint8Array.of(0, 0, 0, 0, 3, 1));
  assert.equal(d.next(), undefined);
  assert.throws(() => d.end(), isCode(Code.InvalidArgument));
  const body = new Uint8Array([...encodeEnvelope(0, Uint8Array.of(1)), ...encodeEnvelope(0, Uint8Array.of(2, 3))]);
  const src = () =>
    new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < body.length; i += 3) c.enqueue(body.slice(i, i + 3));
        c.close();
      },
    });
  const viaIter: number[][] = [];
  for await (const e of readEnvelopes(src(), 100)) viaIter.push([...e.data]);
  const viaStream: number[][] = [];
  for await (const e of src().pipeThrough(createEnvelopeDecoderStream(100)) as unknown as AsyncIterable<Envelope>) viaStream.push([...e.data]);
  assert.deepEqual(viaIter, [[1], [2, 3]]);
  assert.deepEqual(viaStream, viaIter);
  await assert.rejects(
    (async () => {
      for await (const _ of readEnvelopes((async function* () {
        yield Uint8Array.of(0, 0, 0);
      })(), 100));
    })(),
    isCode(Code.InvalidArgument),
  );
});
