/**
 * Headers ⇄ call metadata (src/protocol/metadata-headers.ts): protocol and hop-by-hop headers left out,
 * -bin values kept base64 and split, limits, invalid keys and values refused or skipped.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Code } from "@connectrpc/connect";
import { headersToMetadata, appendMetadataToHeaders, MetadataCollector } from "../../src/protocol/index.js";
import { isCode } from "../helpers/codes.js";

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
