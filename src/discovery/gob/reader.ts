/**
 * Bounded reader for gob primitives. Every read checks the bytes it needs against what is left, so a
 * lying length or count can never make the decoder allocate or loop past the end of its input.
 */

/** Thrown for any malformed gob input. */
export class GobError extends Error {
  override name = "GobError";
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });

/** A cursor over one gob message (or a slice of one). */
export class GobReader {
  /** Next byte to read. */
  pos: number;

  constructor(
    readonly buf: Uint8Array,
    start = 0,
    /** One past the last readable byte. */
    readonly end = buf.length,
  ) {
    this.pos = start;
  }

  /** Bytes left before `end`. */
  get remaining(): number {
    return this.end - this.pos;
  }

  /** Throws unless `n` more bytes are available. */
  need(n: number): void {
    if (n > this.end - this.pos) throw new GobError(`gob: truncated input (need ${n} bytes, have ${this.end - this.pos})`);
  }

  /** One raw byte. */
  byte(): number {
    if (this.pos >= this.end) throw new GobError("gob: truncated input");
    return this.buf[this.pos++]!;
  }

  /**
   * Reads a gob unsigned integer: one byte below 128, else a byte holding the negated byte count
   * (1..8) followed by that many big-endian bytes. Values above 2^53-1 come back as bigint.
   */
  uint(): number | bigint {
    const b = this.byte();
    if (b < 0x80) return b;
    const n = 256 - b;
    if (n > 8) throw new GobError("gob: encoded unsigned integer out of range");
    this.need(n);
    const buf = this.buf;
    let p = this.pos;
    this.pos += n;
    if (n <= 6) {
      let v = 0;
      for (let i = 0; i < n; i++) v = v * 256 + buf[p++]!;
      return v;
    }
    let v = 0n;
    for (let i = 0; i < n; i++) v = (v << 8n) | BigInt(buf[p++]!);
    return v <= MAX_SAFE ? Number(v) : v;
  }

  /** Reads a gob signed integer (zig-zag: bit 0 set means complemented). */
  int(): number | bigint {
    const u = this.uint();
    if (typeof u === "number") {
      const half = Math.floor(u / 2);
      return u % 2 === 1 ? -half - 1 : half;
    }
    const v = u & 1n ? ~(u >> 1n) : u >> 1n;
    return v <= MAX_SAFE && v >= -MAX_SAFE ? Number(v) : v;
  }

  /** Reads a uint that must be a count or length no larger than `max` (default: bytes remaining). */
  length(max = this.remaining, what = "length"): number {
    const v = this.uint();
    // `max` is often `r.remaining` evaluated before the length itself was read: bound by both.
    const limit = Math.min(max, this.remaining);
    if (typeof v !== "number" || v > limit) throw new GobError(`gob: ${what} ${v} exceeds the ${limit} bytes left`);
    return v;
  }

  /** Reads a type id (a gob int) and checks it is in int32 range. */
  typeId(): number {
    const v = this.int();
    if (typeof v !== "number" || v > 0x7fffffff || v < -0x7fffffff) throw new GobError(`gob: type id ${v} out of range`);
    return v;
  }

  /** Reads a float64: a uint whose bytes are the IEEE-754 bits in reversed order. */
  float(): number {
    const b = this.byte();
    const bytes = new Uint8Array(8);
    if (b < 0x80) bytes[7] = b;
    else {
      const n = 256 - b;
      if (n > 8) throw new GobError("gob: encoded unsigned integer out of range");
      this.need(n);
      bytes.set(this.buf.subarray(this.pos, this.pos + n), 8 - n);
      this.pos += n;
    }
    // The big-endian uint is the little-endian float.
    return new DataView(bytes.buffer).getFloat64(0, true);
  }

  /** Reads a length-prefixed byte string (a view, not a copy). */
  bytes(): Uint8Array {
    const n = this.length();
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Reads a length-prefixed UTF-8 string (invalid sequences become U+FFFD, as Go strings are bytes). */
  string(): string {
    const n = this.length();
    const p = this.pos;
    this.pos += n;
    return n === 0 ? "" : utf8.decode(this.buf.subarray(p, p + n));
  }
}
