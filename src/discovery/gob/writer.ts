/** Growable byte buffer that writes gob primitives in Go's minimal encodings. */

const utf8 = new TextEncoder();
const MAX_U64 = (1n << 64n) - 1n;
const MIN_I64 = -(1n << 63n);
const MAX_I64 = (1n << 63n) - 1n;

/** Appends gob primitives to a growing buffer. */
export class GobWriter {
  buf: Uint8Array;
  len = 0;

  constructor(initial = 256) {
    this.buf = new Uint8Array(initial);
  }

  private grow(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  /** The bytes written so far (a view). */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }

  /** One raw byte. */
  byte(b: number): void {
    this.grow(1);
    this.buf[this.len++] = b;
  }

  /** Raw bytes. */
  raw(b: Uint8Array): void {
    this.grow(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  /** A gob unsigned integer (0 ≤ v < 2^64). */
  uint(v: number | bigint): void {
    if (typeof v === "number") {
      if (!Number.isSafeInteger(v) || v < 0) {
        if (Number.isInteger(v) && v >= 0 && v <= 2 ** 64) return this.uint(BigInt(v));
        throw new RangeError(`gob: ${v} is not an unsigned integer`);
      }
      if (v < 0x80) return this.byte(v);
      let n = 0;
      for (let t = v; t > 0; t = Math.floor(t / 256)) n++;
      this.grow(n + 1);
      this.buf[this.len] = 256 - n;
      for (let i = n, t = v; i > 0; i--, t = Math.floor(t / 256)) this.buf[this.len + i] = t % 256;
      this.len += n + 1;
      return;
    }
    if (v < 0n || v > MAX_U64) throw new RangeError(`gob: ${v} is not a uint64`);
    if (v < 0x80n) return this.byte(Number(v));
    let n = 0;
    for (let t = v; t > 0n; t >>= 8n) n++;
    this.grow(n + 1);
    this.buf[this.len] = 256 - n;
    for (let i = n, t = v; i > 0; i--, t >>= 8n) this.buf[this.len + i] = Number(t & 0xffn);
    this.len += n + 1;
  }

  /** A gob signed integer (zig-zag). */
  int(v: number | bigint): void {
    if (typeof v === "number" && Number.isSafeInteger(v)) {
      // 2*|v| may exceed 2^53 only for |v| > 2^52; route those through bigint.
      if (v >= 0 && v <= 2 ** 52) return this.uint(v * 2);
      if (v < 0 && v >= -(2 ** 52)) return this.uint(-v * 2 - 1);
    }
    if (typeof v === "number" && !Number.isInteger(v)) throw new RangeError(`gob: ${v} is not an integer`);
    const b = BigInt(v);
    if (b < MIN_I64 || b > MAX_I64) throw new RangeError(`gob: ${v} is not an int64`);
    this.uint(b < 0n ? ((~b) << 1n) | 1n : b << 1n);
  }

  /** A float64 as Go sends it: IEEE bits byte-reversed, then as a uint. */
  float(f: number): void {
    const tmp = new Uint8Array(8);
    new DataView(tmp.buffer).setFloat64(0, f, true);
    let i = 0;
    while (i < 8 && tmp[i] === 0) i++;
    const n = 8 - i;
    if (n === 0) return this.byte(0);
    if (n === 1 && tmp[7]! < 0x80) return this.byte(tmp[7]!);
    this.byte(256 - n);
    this.raw(tmp.subarray(i));
  }

  /** A length-prefixed UTF-8 string. */
  string(s: string): void {
    if (s.length === 0) return this.byte(0);
    // Worst case 3 bytes per UTF-16 unit; encode in place after a provisional length.
    const max = s.length * 3;
    this.grow(max + 9);
    const start = this.len;
    const lenBytes = max < 0x80 ? 1 : uintSize(max);
    const { written } = utf8.encodeInto(s, this.buf.subarray(start + lenBytes));
    const actual = written < 0x80 ? 1 : uintSize(written);
    if (actual !== lenBytes) this.buf.copyWithin(start + actual, start + lenBytes, start + lenBytes + written);
    this.uint(written);
    this.len = start + actual + written;
  }

  /** A length-prefixed byte string. */
  bytesField(b: Uint8Array): void {
    this.uint(b.length);
    this.raw(b);
  }
}

/** Encoded size of a uint ≥ 128 (1 count byte + value bytes). */
function uintSize(v: number): number {
  let n = 1;
  for (let t = v; t > 0; t = Math.floor(t / 256)) n++;
  return n;
}

/** Encoded size of any uint. */
export function uintLength(v: number): number {
  return v < 0x80 ? 1 : uintSize(v);
}
