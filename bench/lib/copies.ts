/**
 * Counts the bytes a benchmark process copies in JavaScript, by where (bench processes only). While on,
 * it wraps the ways JS code copies bytes — `%TypedArray%.prototype.set` and `.slice`,
 * `ArrayBuffer.prototype.slice`, `Buffer.concat` — and `ws`'s frame masking (a per-byte XOR, into a
 * new buffer for a read-only payload), and charges each call's bytes to its caller, read from the
 * stack (`set ← DataBuffer.pack (nats-core/databuffer.js)`). What it cannot see: copies inside Node
 * itself (the kernel's socket reads and writes, the HTTP parser) and inside V8 builtins called from
 * Node's own internals. Slow while on (a stack per copy): count, do not time, with it.
 */
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

/** Bytes copied by site since {@link startCopyCount}. */
export type CopySites = Record<string, number>;

const typedProto = Object.getPrototypeOf(Uint8Array.prototype) as {
  set: (this: Uint8Array, src: ArrayLike<number>, offset?: number) => void;
  slice: (this: Uint8Array, ...a: unknown[]) => Uint8Array;
};

/** The wrappers below, as they appear in stacks (skipped when looking for the caller). */
const wrapperFrames = /^\s*at (?:Object\.|Function\.)?(?:typedProto\.set|typedProto\.slice|ArrayBuffer\.slice|Buffer\.concat|Sender\.frame|add|caller) /;

/** The first caller outside this file, shortened: `fn (package/file.js)`. */
function caller(): string {
  const lines = (new Error().stack ?? "").split("\n").slice(1);
  for (const l of lines) {
    if (l.includes("copies.") || wrapperFrames.test(l)) continue;
    const m = /at (?:async )?(?:(\S+) )?\(?(.*?):\d+:\d+\)?$/.exec(l.trim());
    if (!m) continue;
    const file = (m[2] ?? "").replace(/^file:\/\//, "");
    const short = file.includes("node_modules/")
      ? file.slice(file.lastIndexOf("node_modules/") + 13).replace(/^@[^/]+\//, "").replace(/\/lib\//, "/")
      : file.split("/").slice(-1)[0];
    return `${m[1] ?? "<anonymous>"} (${short})`;
  }
  return "?";
}

/** Starts counting; the returned function stops it and gives the bytes by site. */
export function startCopyCount(): () => CopySites {
  const sites: CopySites = {};
  const add = (what: string, n: number) => {
    if (n <= 0) return;
    const k = `${what} ← ${caller()}`;
    sites[k] = (sites[k] ?? 0) + n;
  };
  const origSet = typedProto.set;
  const origSlice = typedProto.slice;
  const origAbSlice = ArrayBuffer.prototype.slice;
  const origConcat = Buffer.concat;
  const Sender = (require("ws") as { Sender: unknown }).Sender as { frame: (data: unknown, options: { mask?: boolean; readOnly?: boolean }) => unknown[] };
  const origFrame = Sender.frame;
  typedProto.set = function (this: Uint8Array, src: ArrayLike<number>, offset?: number) {
    add("set", (src as { length?: number }).length ?? 0);
    return origSet.call(this, src, offset);
  };
  typedProto.slice = function (this: Uint8Array, ...a: unknown[]) {
    const out = origSlice.apply(this, a);
    add("slice", out.byteLength);
    return out;
  };
  ArrayBuffer.prototype.slice = function (this: ArrayBuffer, ...a: [number?, number?]) {
    const out = origAbSlice.apply(this, a);
    add("ArrayBuffer.slice", out.byteLength);
    return out;
  };
  Buffer.concat = function (list: readonly Uint8Array[], total?: number) {
    const out = origConcat(list, total);
    if (list.length > 1) add("Buffer.concat", out.length);
    return out;
  } as typeof Buffer.concat;
  Sender.frame = function (data: unknown, options: { mask?: boolean; readOnly?: boolean }) {
    const out = origFrame.call(Sender, data, options);
    const n = typeof data === "string" ? 0 : ((data as { length?: number }).length ?? 0);
    // A masked payload: XORed byte by byte, into a fresh buffer when it is read-only (ws's `merge`).
    if (options.mask && out.length === 1 && n > 0) add("ws mask (copy + XOR)", n);
    else if (options.mask && n > 0) add("ws mask (XOR in place)", n);
    return out;
  };
  return () => {
    typedProto.set = origSet;
    typedProto.slice = origSlice;
    ArrayBuffer.prototype.slice = origAbSlice;
    Buffer.concat = origConcat;
    Sender.frame = origFrame;
    return sites;
  };
}
