/**
 * Recognising a grpc-websockets upgrade and checking its Origin (src/protocol-grpc-websockets/upgrade.ts).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { isGrpcWebsocketsUpgrade, checkWebSocketOrigin } from "../../src/protocol-grpc-websockets/index.js";

test("isGrpcWebsocketsUpgrade and checkWebSocketOrigin", () => {
  const h = (o: Record<string, string>) => ({ headers: new Headers(o) });
  assert.equal(isGrpcWebsocketsUpgrade(h({ upgrade: "WebSocket", "sec-websocket-protocol": "foo, GRPC-WebSockets" })), true);
  assert.equal(isGrpcWebsocketsUpgrade(h({ upgrade: "websocket", "sec-websocket-protocol": "grpc-websockets-x" })), false);
  assert.equal(isGrpcWebsocketsUpgrade(h({ "sec-websocket-protocol": "grpc-websockets" })), false);
  assert.equal(checkWebSocketOrigin("https://a.example.com", ["https://*.example.com"]), true);
  assert.equal(checkWebSocketOrigin("https://example.com", ["https://*.example.com"]), false);
  assert.equal(checkWebSocketOrigin("https://evil.test", ["https://app.test"]), false);
  assert.equal(checkWebSocketOrigin("https://evil.test", "*"), true);
  assert.equal(checkWebSocketOrigin(undefined, ["https://app.test"]), true, "non-browser clients send no Origin");
});
