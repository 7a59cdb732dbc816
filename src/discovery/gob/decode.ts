/**
 * Decodes one gob payload (a fresh Go `gob.Encoder` stream holding type definitions and exactly one
 * value) into a generic {@link GobValue}. Definitions are read dynamically: ids are whatever the
 * sending process chose, definitions may refer forward, and structs come back keyed by field name.
 *
 * Hostile input is rejected with a {@link GobError} in time and memory linear in the payload size:
 * every count is checked against the bytes that remain (each gob value takes at least one byte),
 * nesting is capped, and nothing is allocated from a length before it is known to fit.
 */
import { GobError, GobReader } from "./reader.js";
import { GobComplex, GobTypeId, type GobStruct, type GobValue, type WireType } from "./types.js";

/** Limits for {@link decodeGob}. */
export interface GobDecodeOptions {
  /** Largest payload accepted, in bytes. Default 8 MiB. */
  maxBytes?: number;
  /** Deepest nesting of structs, maps, slices and interfaces. Default 32. */
  maxDepth?: number;
}

/** The value of a payload, with the type id and the definitions it came with. */
export interface GobDecoded {
  /** The sender's id for the value's type. */
  readonly typeId: number;
  /** The value's wire type; undefined for a predefined basic type. */
  readonly type: WireType | undefined;
  readonly value: GobValue;
  /** Every definition in the payload, by the sender's ids. */
  readonly types: ReadonlyMap<number, WireType>;
}

const FIRST_USER = GobTypeId.firstUser;

/** Decodes a single-value gob payload. Throws {@link GobError} on anything malformed. */
export function decodeGob(payload: Uint8Array, opts: GobDecodeOptions = {}): GobDecoded {
  const maxBytes = opts.maxBytes ?? 8 << 20;
  if (payload.length > maxBytes) throw new GobError(`gob: payload of ${payload.length} bytes exceeds ${maxBytes}`);
  const types = new Map<number, WireType>();
  const r = new GobReader(payload);
  for (;;) {
    if (r.remaining === 0) throw new GobError(payload.length === 0 ? "gob: empty payload" : "gob: payload has no value");
    const count = r.length(r.remaining, "message length");
    if (count === 0) throw new GobError("gob: empty message");
    const m = new GobReader(payload, r.pos, r.pos + count);
    r.pos += count;
    const id = m.typeId();
    if (id < 0) {
      const tid = -id;
      if (tid < FIRST_USER) throw new GobError(`gob: definition of reserved type id ${tid}`);
      if (types.has(tid)) throw new GobError(`gob: duplicate type ${tid} received`);
      types.set(tid, readWireType(m));
      if (m.remaining !== 0) throw new GobError("gob: extra data in type definition");
      continue;
    }
    if (id === 0) throw new GobError("gob: value of type id 0");
    const dec = new ValueDecoder(types, opts.maxDepth ?? 32);
    const value = dec.top(m, id, 0);
    if (m.remaining !== 0) throw new GobError("gob: extra data after value");
    if (r.remaining !== 0) throw new GobError("gob: data after the value message");
    return { typeId: id, type: types.get(id), value, types };
  }
}

/** Reads struct fields: calls `onField(index)` for each (delta, value) pair until the `00` end. */
function readFields(r: GobReader, numFields: number, onField: (index: number) => void): void {
  let field = -1;
  for (;;) {
    const delta = r.uint();
    if (delta === 0) return;
    if (typeof delta !== "number" || field + delta >= numFields) throw new GobError("gob: field number out of range");
    field += delta;
    onField(field);
  }
}

interface Common {
  name: string;
}

/** CommonType{0 Name string, 1 Id int}; the Id is ignored (the message's id is authoritative). */
function readCommon(r: GobReader): Common {
  const c: Common = { name: "" };
  readFields(r, 2, (f) => {
    if (f === 0) c.name = r.string();
    else r.typeId();
  });
  return c;
}

/** A type id field of a definition: must name some type (> 0). */
function readRef(r: GobReader): number {
  const id = r.typeId();
  if (id <= 0) throw new GobError(`gob: invalid type reference ${id}`);
  return id;
}

/** Decodes a `wireType` definition body (exactly one of its seven fields must be set). */
function readWireType(r: GobReader): WireType {
  let out: WireType | undefined;
  readFields(r, 7, (f) => {
    if (out) throw new GobError("gob: wire type with more than one kind");
    switch (f) {
      case 0: {
        // arrayType{0 CommonType, 1 Elem, 2 Len}
        let c: Common = { name: "" };
        let elem = 0;
        let len = 0;
        readFields(r, 3, (g) => {
          if (g === 0) c = readCommon(r);
          else if (g === 1) elem = readRef(r);
          else {
            const n = r.int();
            if (typeof n !== "number" || n < 0) throw new GobError("gob: invalid array length");
            len = n;
          }
        });
        if (elem === 0) throw new GobError("gob: array without element type");
        out = { kind: "array", name: c.name, elem, len };
        break;
      }
      case 1: {
        // sliceType{0 CommonType, 1 Elem}
        let c: Common = { name: "" };
        let elem = 0;
        readFields(r, 2, (g) => {
          if (g === 0) c = readCommon(r);
          else elem = readRef(r);
        });
        if (elem === 0) throw new GobError("gob: slice without element type");
        out = { kind: "slice", name: c.name, elem };
        break;
      }
      case 2: {
        // structType{0 CommonType, 1 Field []fieldType{0 Name, 1 Id}}
        let c: Common = { name: "" };
        const fields: { name: string; id: number }[] = [];
        readFields(r, 2, (g) => {
          if (g === 0) c = readCommon(r);
          else {
            const n = r.length(r.remaining, "field count");
            for (let i = 0; i < n; i++) {
              const fd = { name: "", id: 0 };
              readFields(r, 2, (h) => {
                if (h === 0) fd.name = r.string();
                else fd.id = readRef(r);
              });
              if (fd.id === 0) throw new GobError(`gob: struct field ${JSON.stringify(fd.name)} without a type`);
              fields.push(fd);
            }
          }
        });
        out = { kind: "struct", name: c.name, fields };
        break;
      }
      case 3: {
        // mapType{0 CommonType, 1 Key, 2 Elem}
        let c: Common = { name: "" };
        let key = 0;
        let elem = 0;
        readFields(r, 3, (g) => {
          if (g === 0) c = readCommon(r);
          else if (g === 1) key = readRef(r);
          else elem = readRef(r);
        });
        if (key === 0 || elem === 0) throw new GobError("gob: map without key or element type");
        out = { kind: "map", name: c.name, key, elem };
        break;
      }
      default: {
        // gobEncoderType{0 CommonType} for GobEncoder / BinaryMarshaler / TextMarshaler
        let c: Common = { name: "" };
        readFields(r, 1, () => (c = readCommon(r)));
        out = { kind: "opaque", name: c.name, marshaler: f === 4 ? "gob" : f === 5 ? "binary" : "text" };
      }
    }
  });
  if (!out) throw new GobError("gob: empty wire type");
  return out;
}

/** Decodes values against the definitions of one payload. */
class ValueDecoder {
  constructor(
    private readonly types: ReadonlyMap<number, WireType>,
    private readonly maxDepth: number,
  ) {}

  /**
   * A top-level (or interface-held) value: structs are sent bare, anything else as a "singleton",
   * a zero field delta followed by the value.
   */
  top(r: GobReader, id: number, depth: number): GobValue {
    const t = this.types.get(id);
    if (t?.kind === "struct") return this.struct(r, t, depth);
    if (r.uint() !== 0) throw new GobError("gob: non-zero delta for singleton");
    return this.value(r, id, depth);
  }

  value(r: GobReader, id: number, depth: number): GobValue {
    switch (id) {
      case GobTypeId.bool:
        return r.uint() !== 0;
      case GobTypeId.int:
        return r.int();
      case GobTypeId.uint:
        return r.uint();
      case GobTypeId.float:
        return r.float();
      case GobTypeId.bytes:
        return r.bytes().slice();
      case GobTypeId.string:
        return r.string();
      case GobTypeId.complex:
        return new GobComplex(r.float(), r.float());
      case GobTypeId.interface:
        return this.iface(r, depth);
    }
    const t = this.types.get(id);
    if (!t) throw new GobError(`gob: unknown type id ${id}`);
    if (depth >= this.maxDepth) throw new GobError(`gob: nesting deeper than ${this.maxDepth}`);
    switch (t.kind) {
      case "struct":
        return this.struct(r, t, depth);
      case "slice":
      case "array": {
        const n = r.length(r.remaining, "element count");
        if (t.kind === "array" && n !== t.len) throw new GobError(`gob: array length ${n}, want ${t.len}`);
        const out = new Array<GobValue>(n);
        for (let i = 0; i < n; i++) out[i] = this.value(r, t.elem, depth + 1);
        return out;
      }
      case "map": {
        const n = r.length(Math.floor(r.remaining / 2), "map size");
        const out = new Map<GobValue, GobValue>();
        for (let i = 0; i < n; i++) {
          const k = this.value(r, t.key, depth + 1);
          out.set(k, this.value(r, t.elem, depth + 1));
        }
        return out;
      }
      case "opaque":
        return r.bytes().slice();
    }
  }

  private struct(r: GobReader, t: Extract<WireType, { kind: "struct" }>, depth: number): GobStruct {
    if (depth >= this.maxDepth) throw new GobError(`gob: nesting deeper than ${this.maxDepth}`);
    const out: Record<string, GobValue> = Object.create(null);
    const fields = t.fields;
    readFields(r, fields.length, (f) => {
      const fd = fields[f]!;
      out[fd.name] = this.value(r, fd.id, depth + 1);
    });
    return out;
  }

  /** name, type id, byte count, then the value as a singleton (or bare struct). Nil is an empty name. */
  private iface(r: GobReader, depth: number): GobValue {
    if (depth >= this.maxDepth) throw new GobError(`gob: nesting deeper than ${this.maxDepth}`);
    const nameLen = r.length(r.remaining, "interface name length");
    if (nameLen === 0) return null;
    r.pos += nameLen; // the Go type name: registered names are Go's business, the id says how to decode
    const id = r.typeId();
    if (id <= 0) throw new GobError("gob: type definitions inside interface values are not supported");
    if (id >= GobTypeId.wireType && id < FIRST_USER) throw new GobError(`gob: interface of reserved type id ${id}`);
    const n = r.length(r.remaining, "interface value length");
    const sub = new GobReader(r.buf, r.pos, r.pos + n);
    r.pos += n;
    const v = this.top(sub, id, depth + 1);
    if (sub.remaining !== 0) throw new GobError("gob: extra data in interface value");
    return v;
  }
}
