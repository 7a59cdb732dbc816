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

/** A request whose body the test feeds chunk by chunk, and which says whether it was cancelled. */
function feedRequest() {
  let ctrl!: ReadableStreamDefaultController<Uint8Array>;
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    start: (c) => void (ctrl = c),
    cancel: () => void (cancelled = true),
  });
  const req = new Request("http://x/a.B/C", { method: "POST", body, duplex: "half" } as RequestInit);
  return { req, push: (n: number) => ctrl.enqueue(new Uint8Array(n)), close: () => ctrl.close(), cancelled: () => cancelled };
}

test("drainBodyBeforeEnd: a whole response waits until the unread body has been read to its end", async () => {
  const f = feedRequest();
  const { sink } = fromFetchRequest(f.req, { drainBodyBeforeEnd: true }, 1024);
  f.push(100);
  // Refused before the protocol read a byte (as at authentication).
  sink.respond(401, headers({ "content-type": "application/json" }), new TextEncoder().encode("{}"));
  let handed = false;
  void sink.response.then(() => (handed = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(handed, false, "no response while the client is still sending");
  f.close();
  const res = await within(sink.response, 2000, "the response once the body has ended");
  assert.equal(res.status, 401);
  assert.equal(f.cancelled(), false, "read to its end, not cancelled");
});

test("drainBodyBeforeEnd: a streamed response closes after the rest of a body the protocol stopped reading", async () => {
  const f = feedRequest();
  const { request, sink } = fromFetchRequest(f.req, { drainBodyBeforeEnd: true }, 1024);
  const it = (request.body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  f.push(10);
  assert.equal((await it.next()).value?.byteLength, 10);
  await it.return?.(); // the protocol stops reading mid-body
  sink.head(200, headers({}));
  sink.write(new Uint8Array([1, 2, 3]));
  sink.end();
  const reader = (await sink.response).body!.getReader();
  assert.deepEqual((await reader.read()).value, new Uint8Array([1, 2, 3]));
  let closed = false;
  const done = reader.read().then((r) => (closed = r.done));
  await new Promise((r) => setImmediate(r));
  assert.equal(closed, false, "the body stays open while the request body has not ended");
  f.push(5);
  f.close();
  await within(done, 2000, "the response body's end");
  assert.equal(closed, true);
});

test("drainBodyBeforeEnd: a body longer than maxDiscardBytes is cancelled, and the response goes out", async () => {
  const f = feedRequest();
  const { sink } = fromFetchRequest(f.req, { drainBodyBeforeEnd: true }, 1024);
  sink.respond(413, headers({}));
  for (let i = 0; i <= 8; i++) f.push(1024 * 1024);
  assert.equal((await within(sink.response, 2000, "the response")).status, 413);
  assert.equal(f.cancelled(), true);
});

test("without drainBodyBeforeEnd the response does not wait for the body", async () => {
  const f = feedRequest();
  const { sink } = fromFetchRequest(f.req, undefined, 1024);
  sink.respond(401, headers({}));
  assert.equal((await within(sink.response, 2000, "the response")).status, 401);
});
