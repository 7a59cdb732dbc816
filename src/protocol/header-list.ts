/**
 * HTTP headers without the fetch `Headers` class, for adapters that work on a runtime's own request
 * objects (the Node gate). {@link HeaderList} behaves as `Headers` does where the gateway
 * can see it — lower-cased names, values stripped of surrounding whitespace, duplicates combined
 * with `, ` (`; ` for `cookie`), iteration sorted by name with each `set-cookie` apart — so the same
 * protocol code gives the same metadata and the same response headers on either kind of request.
 */

/** What the adapters read from request headers: `Headers` has this shape. */
export interface RequestHeaders {
  /** The combined value of a header, or null. `name` must be lower-case. */
  get(name: string): string | null;
  /** Every header, sorted by (lower-case) name, duplicates combined. */
  forEach(cb: (value: string, key: string) => void): void;
}

/** What the adapters write response headers into: `Headers` has this shape. */
export interface ResponseHeaders {
  append(name: string, value: string): void;
  set(name: string, value: string): void;
  get(name: string): string | null;
  forEach(cb: (value: string, key: string) => void): void;
}

/** Strips leading and trailing HTTP whitespace (tab, LF, CR, space), as `Headers` does. */
function normalizeValue(v: string): string {
  let s = 0;
  let e = v.length;
  while (s < e && isHttpWhitespace(v.charCodeAt(s))) s++;
  while (e > s && isHttpWhitespace(v.charCodeAt(e - 1))) e--;
  return s === 0 && e === v.length ? v : v.slice(s, e);
}

function isHttpWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/**
 * A header list in insertion order (names lower-cased). Read as `Headers` reads: `get` combines,
 * `forEach` sorts. Names and values are not validated: callers add only valid ones (what the HTTP
 * parser accepted, or metadata already checked by `appendMetadataToHeaders`).
 */
export class HeaderList implements RequestHeaders, ResponseHeaders {
  private names: string[] = [];
  private values: string[] = [];

  /** From Node's `rawHeaders` (`[name, value, name, value, …]`); HTTP/2 pseudo-headers are skipped. */
  static fromRaw(raw: readonly string[]): HeaderList {
    const h = new HeaderList();
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const k = raw[i]!;
      if (k.charCodeAt(0) !== 0x3a /* : */) h.append(k, raw[i + 1]!);
    }
    return h;
  }

  append(name: string, value: string): void {
    this.names.push(name.toLowerCase());
    this.values.push(normalizeValue(value));
  }

  set(name: string, value: string): void {
    this.delete(name);
    this.append(name, value);
  }

  delete(name: string): void {
    const n = name.toLowerCase();
    if (!this.names.includes(n)) return;
    const names: string[] = [];
    const values: string[] = [];
    for (let i = 0; i < this.names.length; i++) {
      if (this.names[i] === n) continue;
      names.push(this.names[i]!);
      values.push(this.values[i]!);
    }
    this.names = names;
    this.values = values;
  }

  has(name: string): boolean {
    return this.names.includes(name.toLowerCase());
  }

  get(name: string): string | null {
    const n = name.toLowerCase();
    let out: string | null = null;
    for (let i = 0; i < this.names.length; i++) {
      if (this.names[i] !== n) continue;
      out = out === null ? this.values[i]! : out + (n === "cookie" ? "; " : ", ") + this.values[i]!;
    }
    return out;
  }

  /** Sorted by name, duplicates combined, each `set-cookie` apart: `Headers` iteration. */
  forEach(cb: (value: string, key: string) => void): void {
    for (const [k, v] of this.entries()) cb(v, k);
  }

  /** Every entry in the order appended, none combined (HTTP/2 sends each value as its own field). */
  forEachAppended(cb: (key: string, value: string) => void): void {
    for (let i = 0; i < this.names.length; i++) cb(this.names[i]!, this.values[i]!);
  }

  /** The entries `forEach` visits. */
  entries(): [string, string][] {
    const n = this.names.length;
    const order: number[] = [];
    for (let i = 0; i < n; i++) order.push(i);
    // Stable: equal names keep their insertion order, so combined values are in the order appended.
    order.sort((a, b) => (this.names[a]! < this.names[b]! ? -1 : this.names[a]! > this.names[b]! ? 1 : a - b));
    const out: [string, string][] = [];
    for (const i of order) {
      const k = this.names[i]!;
      const last = out[out.length - 1];
      if (last !== undefined && last[0] === k && k !== "set-cookie") last[1] += (k === "cookie" ? "; " : ", ") + this.values[i]!;
      else out.push([k, this.values[i]!]);
    }
    return out;
  }

  /** A fetch `Headers` with the same entries. */
  toHeaders(): Headers {
    const h = new Headers();
    for (let i = 0; i < this.names.length; i++) h.append(this.names[i]!, this.values[i]!);
    return h;
  }
}
