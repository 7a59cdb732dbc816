/**
 * Unit tests of the shared protocol pieces: envelopes, timeouts, status mapping, metadata, header
 * blocks, base64, gzip, JSON codecs, the request queue, Connect end-stream, CORS-free helpers.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { create, createRegistry, toBinary, fromBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { EchoRequestSchema, EchoResponseSchema, file_demo_v1_echo } from "../../src/gen/demo/v1/echo_pb.js";
import { StatusSchema } from "../../src/gen/google/rpc/status_pb.js";
import {
  EnvelopeDecoder,
  encodeEnvelope,
  readEnvelopes,
  createEnvelopeDecoderStream,
  parseGrpcTimeout,
  parseConnectTimeout,
  effectiveTimeout,
  resolveProtocolOptions,
  codeToHttpStatus,
  codeFromHttpStatus,
  codeToString,
  headersToMetadata,
  appendMetadataToHeaders,
  MetadataCollector,
  parseHeaderBlock,
  encodeHeaderBlock,
  grpcStatusEntries,
  encodeGrpcMessage,
  Base64Decoder,
  base64Decode,
  base64Encode,
  base64EncodeToBytes,
  gzip,
  gunzip,
  acceptsGzip,
  parseRequestEncoding,
  createJsonCodecLookup,
  MessageQueue,
  requestPath,
  isOriginAllowed,
  type Envelope,
} from "../../src/protocol/index.js";
import { encodeEndStream } from "../../src/protocol-connect/index.js";
import { handleConnect } from "../../src/protocol-connect/index.js";

const isCode = (code: Code) => (e: unknown) => e instanceof ConnectError && e.code === code;

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

test("grpc-timeout and Connect-Timeout-Ms parsing; defaults and clamping", () => {
  assert.equal(parseGrpcTimeout(null), undefined);
  assert.equal(parseGrpcTimeout("1H"), 3_600_000);
  assert.equal(parseGrpcTimeout("2M"), 120_000);
  assert.equal(parseGrpcTimeout("3S"), 3000);
  assert.equal(parseGrpcTimeout("250m"), 250);
  assert.equal(parseGrpcTimeout("1500u"), 2);
  assert.equal(parseGrpcTimeout("1n"), 1, "sub-millisecond rounds up, not to 'no timeout'");
  assert.equal(parseGrpcTimeout("99999999S"), 99_999_999_000);
  for (const bad of ["", "1", "m", "123456789S", "1.5S", "-1S", "1s", " 1S", "1S "]) assert.throws(() => parseGrpcTimeout(bad), isCode(Code.InvalidArgument), bad);
  assert.equal(parseConnectTimeout(null), undefined);
  assert.equal(parseConnectTimeout("0"), 0);
  assert.equal(parseConnectTimeout("9999999999"), 9_999_999_999);
  for (const bad of ["", "12345678901", "1m", "-1", "1.0"]) assert.throws(() => parseConnectTimeout(bad), isCode(Code.InvalidArgument), bad);
  const o = resolveProtocolOptions({ defaultTimeoutMs: 5000, maxTimeoutMs: 10_000 });
  assert.equal(effectiveTimeout(undefined, o), 5000);
  assert.equal(effectiveTimeout(20_000, o), 10_000);
  assert.equal(effectiveTimeout(300, o), 300);
  assert.equal(effectiveTimeout(undefined, resolveProtocolOptions({ maxTimeoutMs: 7 })), 7);
  assert.equal(effectiveTimeout(undefined, resolveProtocolOptions({})), undefined);
});

test("code ⇄ HTTP status (Connect table) and code names", () => {
  const table: [Code, number, string][] = [
    [Code.Canceled, 499, "canceled"],
    [Code.Unknown, 500, "unknown"],
    [Code.InvalidArgument, 400, "invalid_argument"],
    [Code.DeadlineExceeded, 504, "deadline_exceeded"],
    [Code.NotFound, 404, "not_found"],
    [Code.AlreadyExists, 409, "already_exists"],
    [Code.PermissionDenied, 403, "permission_denied"],
    [Code.ResourceExhausted, 429, "resource_exhausted"],
    [Code.FailedPrecondition, 400, "failed_precondition"],
    [Code.Aborted, 409, "aborted"],
    [Code.OutOfRange, 400, "out_of_range"],
    [Code.Unimplemented, 501, "unimplemented"],
    [Code.Internal, 500, "internal"],
    [Code.Unavailable, 503, "unavailable"],
    [Code.DataLoss, 500, "data_loss"],
    [Code.Unauthenticated, 401, "unauthenticated"],
  ];
  for (const [code, status, name] of table) {
    assert.equal(codeToHttpStatus(code), status, name);
    assert.equal(codeToString(code), name);
  }
  assert.deepEqual([400, 401, 403, 404, 429, 502, 503, 504, 418].map(codeFromHttpStatus), [
    Code.Internal,
    Code.Unauthenticated,
    Code.PermissionDenied,
    Code.Unimplemented,
    Code.Unavailable,
    Code.Unavailable,
    Code.Unavailable,
    Code.Unavailable,
    Code.Unknown,
  ]);
});

test("headers → metadata: protocol and hop-by-hop headers removed, -bin kept base64 and split, limits", () => {
  const h = new Headers();
  for (const k of [
    "content-type", "content-length", "connection", "te", "upgrade", "host", "keep-alive", "transfer-encoding", "grpc-timeout",
    "connect-protocol-version", "connect-timeout-ms", "accept-encoding", "content-encoding", "sec-websocket-key", "sec-websocket-protocol",
    "x-grpc-web", "x-user-agent", "grpc-accept-encoding", "grpc-encoding", "trailer", "proxy-authorization",
  ]) h.set(k, "1");
  h.set("authorization", "Bearer t");
  h.set("x-trace-bin", "AAEC");
  h.append("x-trace-bin", "AwQ=");
  h.set("user-agent", "ua");
  const md = headersToMetadata(h, 1000);
  assert.deepEqual([...md.keys()].sort(), ["authorization", "user-agent", "x-trace-bin"]);
  assert.deepEqual(md.get("x-trace-bin"), ["AAEC", "AwQ="]);
  assert.throws(() => headersToMetadata(new Headers({ "x-a": "v".repeat(100) }), 50), isCode(Code.ResourceExhausted));
  const c = new MetadataCollector(1000);
  assert.throws(() => c.add("x-a", "a\r\nb"), isCode(Code.InvalidArgument));
  assert.throws(() => c.add("x-a", "a\nb"), isCode(Code.InvalidArgument));
  assert.throws(() => c.add("x-a", "tab\there"), isCode(Code.InvalidArgument));
  assert.throws(() => c.add("x-a", "caf\u00e9"), isCode(Code.InvalidArgument));
  assert.throws(() => c.add("X-Upper", "v"), isCode(Code.InvalidArgument));
  c.add("__proto__", "plain");
  assert.deepEqual(c.metadata.get("__proto__"), ["plain"]);
});

test("metadata → response headers skips protocol keys and invalid values", () => {
  const h = new Headers();
  appendMetadataToHeaders(
    h,
    new Map([
      ["x-ok", ["a", "b"]],
      ["content-type", ["text/html"]],
      ["grpc-status", ["0"]],
      ["x-bad", ["a\r\nb"]],
      ["Bad Key", ["v"]],
    ]),
    "trailer-",
  );
  assert.deepEqual([...h], [["trailer-x-ok", "a, b"]]);
});

test("header blocks: parse (trim, lower-case, protocol keys set aside), encode, limits", () => {
  const parsed = parseHeaderBlock(new TextEncoder().encode("Content-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\nAuthorization:  tok \r\nx-multi: a, b\nx-bin-bin: AA==,AQ==\r\n\r\n"), 1000);
  assert.deepEqual([...parsed.metadata], [["authorization", ["tok"]], ["x-multi", ["a, b"]], ["x-bin-bin", ["AA==", "AQ=="]]]);
  assert.equal(parsed.protocol.get("content-type"), "application/grpc-web+proto");
  assert.throws(() => parseHeaderBlock(new TextEncoder().encode("x: a\rb\r\n"), 1000), isCode(Code.InvalidArgument));
  assert.throws(() => parseHeaderBlock(new TextEncoder().encode(": v\r\n"), 1000), isCode(Code.InvalidArgument));
  assert.throws(() => parseHeaderBlock(new TextEncoder().encode("k e y: v\r\n"), 1000), isCode(Code.InvalidArgument));
  assert.throws(() => parseHeaderBlock(Uint8Array.of(0x78, 0x3a, 0x00), 1000), isCode(Code.InvalidArgument));
  assert.throws(() => parseHeaderBlock(new Uint8Array(1001).fill(0x61), 1000), isCode(Code.ResourceExhausted));
  const block = encodeHeaderBlock([["grpc-status", "0"]], new Map([["x-a", ["1", "2"]], ["content-type", ["no"]]]), new Headers({ "x-e": "3" }));
  assert.equal(new TextDecoder().decode(block), "grpc-status: 0\r\nx-a: 1\r\nx-a: 2\r\nx-e: 3\r\n");
});

test("gRPC status entries: percent-encoded message, details as grpc-status-details-bin", () => {
  assert.deepEqual(grpcStatusEntries(undefined), [["grpc-status", "0"]]);
  assert.equal(encodeGrpcMessage("plain text"), "plain text");
  assert.equal(encodeGrpcMessage("100% ü\n"), "100%25 %C3%BC%0A");
  assert.equal(decodeURIComponent(encodeGrpcMessage("100% ü\n")), "100% ü\n");
  const err = new ConnectError("denied", Code.PermissionDenied);
  err.details.push({ type: "demo.v1.EchoRequest", value: toBinary(EchoRequestSchema, create(EchoRequestSchema, { message: "d" })) });
  const entries = Object.fromEntries(grpcStatusEntries(err));
  assert.equal(entries["grpc-status"], "7");
  assert.equal(entries["grpc-message"], "denied");
  const status = fromBinary(StatusSchema, base64Decode(entries["grpc-status-details-bin"]!));
  assert.equal(status.code, 7);
  assert.equal(status.details[0]!.typeUrl, "type.googleapis.com/demo.v1.EchoRequest");
  assert.equal(fromBinary(EchoRequestSchema, status.details[0]!.value).message, "d");
});

test("base64: incremental decode matches Buffer for every split, both alphabets, padded segments, unpadded end", () => {
  const data = Uint8Array.from({ length: 50 }, (_, i) => (i * 37 + 11) & 0xff);
  for (let n = 0; n <= data.length; n++) {
    const part = data.subarray(0, n);
    const std = base64EncodeToBytes(part);
    assert.equal(new TextDecoder().decode(std), Buffer.from(part).toString("base64"));
    assert.equal(base64Encode(part, { url: true }), Buffer.from(part).toString("base64url"));
    for (let split = 0; split <= std.length; split++) {
      const d = new Base64Decoder();
      const out = [...d.push(std.subarray(0, split)), ...d.push(std.subarray(split)), ...d.end()];
      assert.deepEqual(out, [...part]);
    }
    assert.deepEqual([...base64Decode(base64Encode(part, { url: true }))], [...part]);
  }
  const seg = new Uint8Array([...base64EncodeToBytes(Uint8Array.of(1)), ...base64EncodeToBytes(Uint8Array.of(2, 3)), ...base64EncodeToBytes(Uint8Array.of(4, 5, 6))]);
  const d = new Base64Decoder();
  assert.deepEqual([...d.push(seg), ...d.end()], [1, 2, 3, 4, 5, 6]);
  for (const bad of ["A", "AB*D", "A===", "AA=A"]) assert.throws(() => base64Decode(bad), isCode(Code.InvalidArgument), bad);
});

test("gzip round trip; gunzip limit (RESOURCE_EXHAUSTED) and corrupt input (INVALID_ARGUMENT); encoding negotiation", async () => {
  const data = new Uint8Array(100_000).fill(42);
  const z = await gzip(data);
  assert.ok(z.length < 1000);
  assert.deepEqual(await gunzip(z, 100_000), data);
  await assert.rejects(gunzip(z, 99_999), isCode(Code.ResourceExhausted));
  await assert.rejects(gunzip(Uint8Array.of(1, 2, 3, 4), 100), isCode(Code.InvalidArgument));
  assert.equal(parseRequestEncoding(null), undefined);
  assert.equal(parseRequestEncoding("identity"), undefined);
  assert.equal(parseRequestEncoding("gzip"), "gzip");
  assert.throws(() => parseRequestEncoding("br"), isCode(Code.Unimplemented));
  assert.equal(acceptsGzip("deflate, gzip;q=0.5"), true);
  assert.equal(acceptsGzip("gzip;q=0"), false);
  assert.equal(acceptsGzip("br"), false);
  assert.equal(acceptsGzip(null), false);
});

test("JSON codec lookup from a Registry (demo schema)", () => {
  const lookup = createJsonCodecLookup(createRegistry(file_demo_v1_echo));
  assert.equal(lookup("/demo.v1.EchoService/Nope"), undefined);
  assert.equal(lookup("/nope.Svc/Echo"), undefined);
  assert.equal(lookup("garbage"), undefined);
  const codec = lookup("/demo.v1.EchoService/EchoStream")!;
  assert.equal(lookup("/demo.v1.EchoService/EchoStream"), codec, "cached");
  const bin = codec.requestToBinary(new TextEncoder().encode('{"message":"hi","repeat":3,"unknownField":1}'));
  assert.deepEqual(fromBinary(EchoRequestSchema, bin), create(EchoRequestSchema, { message: "hi", repeat: 3 }));
  const json = codec.responseToJson(toBinary(EchoResponseSchema, create(EchoResponseSchema, { message: "m", node: "n" })));
  assert.deepEqual(JSON.parse(new TextDecoder().decode(json)), { message: "m", node: "n" });
  assert.throws(() => codec.requestToBinary(new TextEncoder().encode("{not json")), isCode(Code.InvalidArgument));
  assert.throws(() => codec.requestToBinary(new TextEncoder().encode('{"repeat":"x"}')), isCode(Code.InvalidArgument));
  assert.throws(() => codec.responseToJson(Uint8Array.of(0xff, 0xff)), isCode(Code.Internal));
});

test("message queue: order, end, fail, overflow, return", async () => {
  const q = new MessageQueue(1000);
  q.push(Uint8Array.of(1));
  const pending = (async () => {
    const out: number[] = [];
    for await (const m of q) out.push(m[0]!);
    return out;
  })();
  q.push(Uint8Array.of(2));
  await new Promise((r) => setTimeout(r, 1));
  q.push(Uint8Array.of(3));
  q.end();
  q.push(Uint8Array.of(4)); // ignored after end
  assert.deepEqual(await pending, [1, 2, 3]);
  const f = new MessageQueue(1000);
  const p = f.next();
  f.fail(new ConnectError("x", Code.Canceled));
  await assert.rejects(p, isCode(Code.Canceled));
  const o = new MessageQueue(200);
  assert.equal(o.push(new Uint8Array(100)), undefined);
  assert.ok(isCode(Code.ResourceExhausted)(o.push(new Uint8Array(100))));
  await assert.rejects(o.next(), isCode(Code.ResourceExhausted));
});

test("Connect end-stream JSON: metadata with a __proto__ key stays data; error metadata merged", () => {
  const err = new ConnectError("gone", Code.NotFound, { "x-e": "1" });
  const json = JSON.parse(new TextDecoder().decode(encodeEndStream(err, new Map([["__proto__", ["p"]], ["x-t", ["a", "b"]], ["grpc-status", ["0"]]]))));
  assert.deepEqual(json, JSON.parse('{"error":{"code":"not_found","message":"gone"},"metadata":{"__proto__":["p"],"x-t":["a","b"],"x-e":["1"]}}'));
  assert.equal(Object.getPrototypeOf(json.metadata), Object.prototype, "no prototype pollution");
  assert.equal(new TextDecoder().decode(encodeEndStream(undefined, new Map())), "{}");
});

test("Connect: GET can be refused per path (405), other methods 405", async () => {
  const h = async () => {};
  const r = await handleConnect(new Request("http://x/a.B/C?encoding=proto&message="), h, { allowGet: (p) => p !== "/a.B/C" });
  assert.equal(r.status, 405);
  const r2 = await handleConnect(new Request("http://x/a.B/C", { method: "PUT", body: "" }), h);
  assert.equal(r2.status, 405);
});

test("a handler that returns without ending the call, or throws, ends it with INTERNAL", async () => {
  const r = await handleConnect(new Request("http://x/a.B/C", { method: "POST", headers: { "content-type": "application/proto" }, body: "" }), async () => {});
  assert.equal(r.status, 500);
  assert.match(((await r.json()) as { message: string }).message, /returned without ending/);
  const r2 = await handleConnect(new Request("http://x/a.B/C", { method: "POST", headers: { "content-type": "application/proto" }, body: "" }), async () => {
    throw new Error("boom");
  });
  assert.equal(r2.status, 500);
});

test("requestPath and origin patterns", () => {
  assert.equal(requestPath("http://h:1/pkg.S/M?x=1#f"), "/pkg.S/M");
  assert.equal(requestPath("https://h"), "/");
  assert.equal(isOriginAllowed("https://A.example.com", ["https://*.example.com"]), true);
  assert.equal(isOriginAllowed("https://a.b.example.com", ["https://*.example.com"]), true);
  assert.equal(isOriginAllowed("http://a.example.com", ["https://*.example.com"]), false);
  assert.equal(isOriginAllowed("https://evil.com/.example.com", ["https://*.example.com"]), false);
  assert.equal(isOriginAllowed("https://x.test", ["https://x.test"]), true);
  assert.equal(isOriginAllowed("https://x.test", []), false);
});
