/**
 * Encodes one value as a complete gob payload, the way a fresh Go `gob.Encoder` would: the type
 * definitions it needs (ids from 65, assigned and sent in Go's order) followed by one value message.
 * For the same types and values, the bytes equal Go's (maps with two or more entries aside: Go
 * writes those in random order).
 *
 * JS → Go value mapping: struct fields are read by name from an object (absent = zero value); maps are
 * a `Map` or a plain object; null/undefined is Go's nil (an empty map `{}` is sent, nil is not);
 * `[]byte` is a Uint8Array. An `interface{}` holds a string, boolean, number (a safe integer is sent as
 * Go `int`, anything else as `float64`), bigint (`int64`), Uint8Array (`[]uint8`) or null (nil).
 */
import { GobComplex, GobTypeId, type GobStructType, type GobType } from "./types.js";
import { GobWriter, uintLength } from "./writer.js";

interface Plan {
  readonly ids: ReadonlyMap<GobType, number>;
  /** The encoded definition messages. */
  readonly prefix: Uint8Array;
  readonly rootId: number;
}

/** The id of a type under a plan (predefined ids for basic types). */
function idOf(t: GobType, ids: ReadonlyMap<GobType, number>): number {
  if (typeof t === "string") return GobTypeId[t];
  const id = ids.get(t);
  if (id === undefined) throw new Error("gob: type without an id");
  return id;
}

/**
 * Type ids as one Go process hands them out: in order of first use, a struct before its fields, a
 * slice, array or map after its parts. Share one instance to mimic a long-lived Go process (ids stay
 * fixed once given); without one, {@link encodeGob} acts like a fresh process for every payload.
 */
export class GobTypeIds {
  private readonly ids = new Map<GobType, number>();
  private next: number = GobTypeId.firstUser;
  /** Definition prefixes by root type (valid forever: ids never change once given). */
  private readonly plans = new Map<GobType, Plan>();

  /** Gives ids to `t` and every type it refers to that has none yet; returns the id of `t`. */
  register(t: GobType): number {
    this.assign(t, new Set());
    return idOf(t, this.ids);
  }

  /** The id of `t`, if it has one. */
  get(t: GobType): number | undefined {
    return typeof t === "string" ? GobTypeId[t] : this.ids.get(t);
  }

  private assign(t: GobType, visiting: Set<GobType>): void {
    if (typeof t === "string" || this.ids.has(t) || visiting.has(t)) return;
    visiting.add(t);
    switch (t.kind) {
      case "struct":
        this.ids.set(t, this.next++);
        for (const f of t.fields) this.assign(f.type, visiting);
        break;
      case "slice":
      case "array":
        this.assign(t.elem, visiting);
        this.ids.set(t, this.next++);
        break;
      case "map":
        this.assign(t.key, visiting);
        this.assign(t.elem, visiting);
        this.ids.set(t, this.next++);
        break;
    }
    visiting.delete(t);
  }

  /** @internal The definitions to send before a value of `root`. */
  plan(root: GobType): Plan {
    let plan = this.plans.get(root);
    if (!plan) {
      const rootId = this.register(root);
      const w = new GobWriter();
      sendDefinitions(root, this.ids, new Set(), w);
      plan = { ids: this.ids, prefix: w.bytes().slice(), rootId };
      this.plans.set(root, plan);
    }
    return plan;
  }
}

/** Writes a CommonType{Name, Id} struct. */
function writeCommon(w: GobWriter, name: string, id: number): void {
  let last = -1;
  if (name !== "") {
    w.uint(0 - last);
    w.string(name);
    last = 0;
  }
  w.uint(1 - last);
  w.int(id);
  w.byte(0);
}

/** Writes the definition messages of `t` and what it refers to, in Go's `sendType` order. */
function sendDefinitions(t: GobType, ids: ReadonlyMap<GobType, number>, sent: Set<GobType>, out: GobWriter): void {
  if (typeof t === "string" || sent.has(t)) return;
  sent.add(t);
  const id = idOf(t, ids);
  const m = new GobWriter(64);
  m.int(-id);
  switch (t.kind) {
    case "struct":
      m.uint(3); // wireType.StructT (field 2)
      m.uint(1); // structType.CommonType
      writeCommon(m, t.name, id);
      if (t.fields.length > 0) {
        m.uint(1); // structType.Field
        m.uint(t.fields.length);
        for (const f of t.fields) {
          m.uint(1);
          m.string(f.name);
          m.uint(1);
          m.int(idOf(f.type, ids));
          m.byte(0);
        }
      }
      m.byte(0);
      break;
    case "slice":
      m.uint(2); // wireType.SliceT (field 1)
      m.uint(1);
      writeCommon(m, t.name, id);
      m.uint(1);
      m.int(idOf(t.elem, ids));
      m.byte(0);
      break;
    case "array":
      m.uint(1); // wireType.ArrayT (field 0)
      m.uint(1);
      writeCommon(m, t.name, id);
      m.uint(1);
      m.int(idOf(t.elem, ids));
      if (t.len !== 0) {
        m.uint(1);
        m.int(t.len);
      }
      m.byte(0);
      break;
    case "map":
      m.uint(4); // wireType.MapT (field 3)
      m.uint(1);
      writeCommon(m, t.name, id);
      m.uint(1);
      m.int(idOf(t.key, ids));
      m.uint(1);
      m.int(idOf(t.elem, ids));
      m.byte(0);
      break;
  }
  m.byte(0); // end of wireType
  out.uint(m.len);
  out.raw(m.bytes());
  switch (t.kind) {
    case "struct":
      for (const f of t.fields) sendDefinitions(f.type, ids, sent, out);
      break;
    case "slice":
    case "array":
      sendDefinitions(t.elem, ids, sent, out);
      break;
    case "map":
      sendDefinitions(t.key, ids, sent, out);
      sendDefinitions(t.elem, ids, sent, out);
      break;
  }
}

const freshPlans = new WeakMap<object, Plan>();

function planFor(root: GobType, ids: GobTypeIds | undefined): Plan {
  if (typeof root === "string") return { ids: new Map(), prefix: new Uint8Array(0), rootId: GobTypeId[root] };
  if (ids) return ids.plan(root);
  let plan = freshPlans.get(root);
  if (!plan) {
    plan = new GobTypeIds().plan(root);
    freshPlans.set(root, plan);
  }
  return plan;
}

/**
 * Encodes `value` of Go type `type` as one self-contained gob payload (definitions + one value).
 * `ids` says which type ids to use (default: those of a fresh Go process). Throws on values that do
 * not fit the type.
 */
export function encodeGob(type: GobType, value: unknown, ids?: GobTypeIds): Uint8Array {
  const plan = planFor(type, ids);
  const body = new GobWriter();
  body.int(plan.rootId);
  const enc = new ValueEncoder(plan.ids);
  if (typeof type !== "string" && type.kind === "struct") enc.struct(body, type, value, 0);
  else {
    body.byte(0);
    enc.value(body, type, value, 0);
  }
  const out = new Uint8Array(plan.prefix.length + uintLength(body.len) + body.len);
  out.set(plan.prefix, 0);
  const count = new GobWriter(9);
  count.uint(body.len);
  out.set(count.bytes(), plan.prefix.length);
  out.set(body.bytes(), plan.prefix.length + count.len);
  return out;
}

const MAX_DEPTH = 64;

/** True when Go would leave this struct field out (the zero value of its type). */
function isZero(t: GobType, v: unknown): boolean {
  if (v === undefined || v === null) return typeof t === "string" || t.kind !== "struct";
  if (typeof t !== "string") {
    if (t.kind === "slice") return Array.isArray(v) && v.length === 0;
    return false; // structs and arrays are always sent; non-nil maps even when empty
  }
  switch (t) {
    case "bool":
      return v === false;
    case "int":
    case "uint":
      return v === 0 || v === 0n;
    case "float":
      return v === 0;
    case "string":
      return v === "";
    case "bytes":
      return v instanceof Uint8Array && v.length === 0;
    case "complex":
      return v instanceof GobComplex && v.real === 0 && v.imag === 0;
    case "interface":
      return false;
  }
}

/** Iterates a Map or a plain object's own entries. */
function entriesOf(v: unknown): Iterable<[unknown, unknown]> {
  if (v instanceof Map) return v;
  if (typeof v === "object" && v !== null && !Array.isArray(v)) return Object.entries(v);
  throw new TypeError("gob: map value must be a Map or a plain object");
}

function sizeOf(v: unknown): number {
  if (v instanceof Map) return v.size;
  return Object.keys(v as object).length;
}

class ValueEncoder {
  constructor(private readonly ids: ReadonlyMap<GobType, number>) {}

  struct(w: GobWriter, t: GobStructType, v: unknown, depth: number): void {
    if (depth > MAX_DEPTH) throw new RangeError("gob: value nested too deeply (cycle?)");
    if (v !== undefined && v !== null && typeof v !== "object") throw new TypeError(`gob: ${t.name} must be an object`);
    const obj = (v ?? {}) as Record<string, unknown>;
    let last = -1;
    const fields = t.fields;
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]!;
      const fv = Object.hasOwn(obj, f.name) ? obj[f.name] : undefined;
      if (isZero(f.type, fv)) continue;
      w.uint(i - last);
      last = i;
      this.value(w, f.type, fv, depth + 1);
    }
    w.byte(0);
  }

  value(w: GobWriter, t: GobType, v: unknown, depth: number): void {
    if (typeof t === "string") return this.basic(w, t, v, depth);
    if (depth > MAX_DEPTH) throw new RangeError("gob: value nested too deeply (cycle?)");
    switch (t.kind) {
      case "struct":
        return this.struct(w, t, v, depth);
      case "slice":
      case "array": {
        const arr = v ?? [];
        if (!Array.isArray(arr)) throw new TypeError(`gob: ${t.name} must be an array`);
        if (t.kind === "array" && arr.length !== t.len) throw new RangeError(`gob: ${t.name} needs ${t.len} elements`);
        w.uint(arr.length);
        for (const e of arr) this.value(w, t.elem, e, depth + 1);
        return;
      }
      case "map": {
        if (v === undefined || v === null) return w.uint(0);
        w.uint(sizeOf(v));
        for (const [k, e] of entriesOf(v)) {
          this.value(w, t.key, k, depth + 1);
          this.value(w, t.elem, e, depth + 1);
        }
        return;
      }
    }
  }

  private basic(w: GobWriter, t: GobType & string, v: unknown, depth: number): void {
    switch (t) {
      case "bool":
        if (v !== undefined && v !== null && typeof v !== "boolean") throw new TypeError("gob: bool expected");
        return w.uint(v ? 1 : 0);
      case "int":
        if (v === undefined || v === null) return w.uint(0);
        if (typeof v !== "number" && typeof v !== "bigint") throw new TypeError("gob: int expected");
        return w.int(v);
      case "uint":
        if (v === undefined || v === null) return w.uint(0);
        if (typeof v !== "number" && typeof v !== "bigint") throw new TypeError("gob: uint expected");
        return w.uint(v);
      case "float":
        if (v === undefined || v === null) return w.uint(0);
        if (typeof v !== "number") throw new TypeError("gob: float expected");
        return w.float(v);
      case "string":
        if (v === undefined || v === null) return w.uint(0);
        if (typeof v !== "string") throw new TypeError("gob: string expected");
        return w.string(v);
      case "bytes":
        if (v === undefined || v === null) return w.uint(0);
        if (!(v instanceof Uint8Array)) throw new TypeError("gob: Uint8Array expected");
        return w.bytesField(v);
      case "complex": {
        const c = v instanceof GobComplex ? v : new GobComplex(0, 0);
        w.float(c.real);
        return w.float(c.imag);
      }
      case "interface":
        return this.iface(w, v, depth);
    }
  }

  /** name, type id, byte count, singleton value; nil is an empty name. */
  private iface(w: GobWriter, v: unknown, depth: number): void {
    let name: string;
    let id: number;
    let t: GobType;
    switch (typeof v) {
      case "undefined":
        return w.uint(0);
      case "string":
        [name, id, t] = ["string", GobTypeId.string, "string"];
        break;
      case "boolean":
        [name, id, t] = ["bool", GobTypeId.bool, "bool"];
        break;
      case "number":
        if (Number.isSafeInteger(v) && !Object.is(v, -0)) [name, id, t] = ["int", GobTypeId.int, "int"];
        else [name, id, t] = ["float64", GobTypeId.float, "float"];
        break;
      case "bigint":
        [name, id, t] = ["int64", GobTypeId.int, "int"];
        break;
      default:
        if (v === null) return w.uint(0);
        if (v instanceof Uint8Array) {
          [name, id, t] = ["[]uint8", GobTypeId.bytes, "bytes"];
          break;
        }
        throw new TypeError(`gob: cannot send ${Array.isArray(v) ? "an array" : typeof v} in an interface{} (Go would need a registered type)`);
    }
    w.string(name);
    w.int(id);
    const inner = new GobWriter(32);
    inner.byte(0);
    this.basic(inner, t as GobType & string, v, depth + 1);
    w.uint(inner.len);
    w.raw(inner.bytes());
  }
}
