/**
 * HeaderList (the Node unary fast path's headers) reads and iterates exactly as a fetch `Headers`
 * built from the same raw header lines (what @hono/node-server gives the app), and so yields the same
 * call metadata; `set`, `delete` and `toHeaders` agree with `Headers` too. Property tests, 5,000 cases.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ConnectError } from "@connectrpc/connect";
import { HeaderList } from "../../src/protocol/header-list.js";
import { headersToMetadata } from "../../src/protocol/metadata-headers.js";

const numRuns = 5_000;

// Names from a small pool (so duplicates and case variants are common), values with the whitespace
// and characters the HTTP parser lets through.
const name = fc.constantFrom("x-a", "X-A", "x-b", "cookie", "Cookie", "set-cookie", "authorization", "content-type", "x-bin-bin", "a", "zz", "x-room", "grpc-timeout", "connect-x");
const value = fc.stringMatching(/^[ \t]{0,2}[\x20-\x7e\x80-\xff]{0,12}[ \t]{0,2}$/);
const lines = fc.array(fc.tuple(name, value), { maxLength: 12 });

function outcome(f: () => unknown): unknown {
  try {
    return f();
  } catch (e) {
    assert.ok(e instanceof ConnectError, String(e));
    return `${e.code} ${e.rawMessage}`;
  }
}

test("HeaderList from raw lines reads as Headers: get, has, forEach order, metadata", () => {
  fc.assert(
    fc.property(lines, (ls) => {
      const raw = ls.flat();
      const h = HeaderList.fromRaw(raw);
      const f = new Headers(ls);
      for (const n of ["x-a", "x-b", "cookie", "set-cookie", "authorization", "content-type", "missing"]) {
        assert.equal(h.get(n), f.get(n), `get ${n}`);
        assert.equal(h.has(n), f.has(n), `has ${n}`);
      }
      const a: [string, string][] = [];
      h.forEach((v, k) => a.push([k, v]));
      const b: [string, string][] = [];
      f.forEach((v, k) => b.push([k, v]));
      assert.deepEqual(a, b);
      assert.deepEqual([...h.toHeaders()], [...f]);
      for (const max of [16, 1 << 14]) {
        assert.deepEqual(outcome(() => headersToMetadata(h, max)), outcome(() => headersToMetadata(f, max)));
      }
    }),
    { numRuns },
  );
});

test("HeaderList set/append/delete behave as Headers", () => {
  const op = fc.tuple(fc.constantFrom("append", "set", "delete"), name, value);
  fc.assert(
    fc.property(fc.array(op, { maxLength: 16 }), (ops) => {
      const h = new HeaderList();
      const f = new Headers();
      for (const [o, n, v] of ops) {
        if (o === "delete") {
          h.delete(n);
          f.delete(n);
        } else {
          h[o](n, v);
          f[o](n, v);
        }
      }
      assert.deepEqual(h.entries(), [...f]);
    }),
    { numRuns },
  );
});

test("HeaderList skips HTTP/2 pseudo-headers, as @hono/node-server does", () => {
  const h = HeaderList.fromRaw([":path", "/x", "x-a", "1", ":method", "POST"]);
  assert.deepEqual(h.entries(), [["x-a", "1"]]);
});
