/**
 * The fetch converter (src/protocol/universal-fetch.ts): a fetch `Request` on the seam, and its sink
 * as a `Response` — path, query, authority, lazily read runtime facts, whole and streamed responses,
 * backpressure, and the client going away (the Request's signal, or the Response body cancelled).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { HeaderList } from "../../src/protocol/header-list.js";
import { fromFetchRequest } from "../../src/protocol/universal-fetch.js";
import type { ClientWatch } from "../../src/protocol/client-signal.js";
import { within } from "../helpers/wait.js";

const headers = (entries: Record<string, string>): HeaderList => {
  const h = new HeaderList();
  for (const k in entries) h.append(k, entries[k]!);
  return h;
};

test("the request: method, path, query without fragment, authority from Host or the URL, body", async () => {
  const { request } = fromFetchRequest(new Request("http://gw.example:8080/a.B/C?x=1&y=2#frag", { method: "POST", body: "hi" }), undefined, 1024);
  assert.equal(request.method, "POST");
  assert.equal(request.path, "/a.B/C");
  assert.equal(request.search, "?x=1&y=2");
  assert.equal(request.authority, "gw.example:8080");
  assert.equal(request.httpVersion, undefined);
  assert.ok(request.body !== null && "getReader" in request.body);
  assert.equal(await new Response(request.body as ReadableStream).text(), "hi");
  const withHost = fromFetchRequest(new Request("http://x/a.B/C", { headers: { host: "front.example" } }), { path: "/p.S/M" }, 1024).request;
  assert.equal(withHost.authority, "front.example");
  assert.equal(withHost.path, "/p.S/M", "info.path wins over the URL");
  assert.equal(withHost.search, "");
});

test("remoteAddress and closed are read from the runtime only when asked, once", () => {
  let reads = 0;
  const closed = Promise.resolve();
  const info = {
    get remoteAddress() {
      reads++;
      return "10.0.0.1";
    },
    get closed() {
      reads++;
      return closed;
    },
  };
  const { request } = fromFetchRequest(new Request("http://x/a.B/C"), info, 1024);
  assert.equal(reads, 0);
  assert.equal(request.remoteAddress, "10.0.0.1");
  assert.equal(request.remoteAddress, "10.0.0.1");
  assert.equal(request.closed, closed);
  assert.equal(request.closed, closed);
  assert.equal(reads, 2);
});

test("respond: one whole Response (status, headers, body; none when undefined)", async () => {
  const a = fromFetchRequest(new Request("http://x/a.B/C"), undefined, 1024);
  a.sink.respond(415, headers({ "content-type": "application/json", "x-a": "1" }), new TextEncoder().encode("{}"));
  a.sink.head(200, headers({})); // ignored after respond
  const r = await a.sink.response;
  assert.equal(r.status, 415);
  assert.equal(r.headers.get("x-a"), "1");
  assert.equal(await r.text(), "{}");
  const b = fromFetchRequest(new Request("http://x/a.B/C"), undefined, 1024);
  b.sink.respond(405, headers({ allow: "POST" }));
  const r2 = await b.sink.response;
  assert.equal(r2.status, 405);
  assert.equal(r2.body, null);
});

test("head/write/end: a streamed body; write returns a promise past the high-water mark, resolved as the client reads", async () => {
  const { sink } = fromFetchRequest(new Request("http://x/a.B/C"), undefined, 64);
  sink.head(200, headers({ "content-type": "application/grpc-web+proto" }));
  const r = await sink.response;
  assert.equal(r.headers.get("content-type"), "application/grpc-web+proto");
  let pending: void | Promise<void>;
  let writes = 0;
  do {
    pending = sink.write(new Uint8Array(16));
    writes++;
  } while (pending === undefined && writes < 100);
  assert.ok(pending instanceof Promise, "backpressure once the queue is past 64 bytes");
  assert.ok(writes < 100);
  const reader = r.body!.getReader();
  let got = 0;
  for (let i = 0; i < writes; i++) {
    const c = await within(reader.read(), 2000, "a queued chunk");
    assert.equal(c.done, false);
    got += c.value!.byteLength;
  }
  await within(pending, 2000, "the write promise, once the client has read the queue");
  sink.end();
  for (;;) {
    const c = await within(reader.read(), 2000, "the end of the body");
    if (c.done) break;
    got += c.value.byteLength;
  }
  assert.equal(got, writes * 16, "every chunk written, in one body");
});

test("the client is gone when the Response body is cancelled, or when the Request's signal aborts", async () => {
  const a = fromFetchRequest(new Request("http://x/a.B/C"), undefined, 1024);
  let gone = 0;
  const watch = a.request.signal as ClientWatch;
  const stop = watch(() => gone++);
  a.sink.head(200, headers({}));
  await (await a.sink.response).body!.cancel();
  assert.equal(gone, 1);
  stop();
  assert.equal(a.sink.write(new Uint8Array(1)), undefined, "writes after the cancel are dropped");
  let late = 0;
  watch(() => late++);
  assert.equal(late, 1, "a watch after the client went away fires at once");

  const ctrl = new AbortController();
  const b = fromFetchRequest(new Request("http://x/a.B/C", { signal: ctrl.signal }), undefined, 1024);
  let goneB = 0;
  (b.request.signal as ClientWatch)(() => goneB++);
  ctrl.abort();
  assert.equal(goneB, 1);
});
