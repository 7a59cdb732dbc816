/**
 * Reads a sticky key from a request message: a dotted field path (`join.peer.sid`) resolved against
 * the method's input schema, then read from the message's protobuf bytes. Runs in the Director, on a
 * sticky call's first request message only (ION's room is in the join, the first message of each
 * stream). Runtime-neutral.
 */
import { fromBinary, ScalarType, type DescField, type DescMessage, type Registry } from "@bufbuild/protobuf";
import { reflect, type ReflectMessage } from "@bufbuild/protobuf/reflect";
import { Code, ConnectError } from "@connectrpc/connect";

/** Reads the key from one message's bytes: the field's value, or undefined when unset or empty. */
export type MessageKeyReader = (message: Uint8Array) => string | undefined;

/**
 * Resolves `path` in `desc`: every segment but the last must be a singular message field, the last a
 * string or integer field. Throws an `Error` naming the segment that does not fit.
 */
export function resolveFieldPath(desc: DescMessage, path: string): DescField[] {
  const fields: DescField[] = [];
  let msg: DescMessage | undefined = desc;
  const parts = path.split(".");
  for (let i = 0; i < parts.length; i++) {
    const name = parts[i]!;
    const f: DescField | undefined = msg?.fields.find((x) => x.name === name);
    if (f === undefined) throw new Error(`${msg?.typeName ?? desc.typeName} has no field ${JSON.stringify(name)}`);
    const last = i === parts.length - 1;
    if (!last) {
      if (f.fieldKind !== "message") throw new Error(`${f.parent.typeName}.${name} is not a message field`);
      msg = f.message;
    } else if (f.fieldKind !== "scalar" || !keyScalars.has(f.scalar)) {
      throw new Error(`${f.parent.typeName}.${name} is not a string or integer field`);
    }
    fields.push(f);
  }
  return fields;
}

/** Scalar types whose value can be a key: strings and integers (not bytes, floats or bools). */
const keyScalars: ReadonlySet<ScalarType> = new Set([
  ScalarType.STRING,
  ScalarType.INT32,
  ScalarType.INT64,
  ScalarType.UINT32,
  ScalarType.UINT64,
  ScalarType.SINT32,
  ScalarType.SINT64,
  ScalarType.FIXED32,
  ScalarType.FIXED64,
  ScalarType.SFIXED32,
  ScalarType.SFIXED64,
]);

/**
 * A reader for `path` in messages of `desc`. A message that does not parse ends the call
 * INVALID_ARGUMENT (it could not be placed; its node would refuse it too).
 */
export function messageKeyReader(desc: DescMessage, path: string): MessageKeyReader {
  const fields = resolveFieldPath(desc, path);
  return (bytes) => {
    let m: ReflectMessage;
    try {
      m = reflect(desc, fromBinary(desc, bytes));
    } catch (e) {
      throw new ConnectError(`request message is not a valid ${desc.typeName}: ${e instanceof Error ? e.message : String(e)}`, Code.InvalidArgument);
    }
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]!;
      if (!m.isSet(f)) return undefined;
      const v: unknown = m.get(f);
      if (i < fields.length - 1) m = v as ReflectMessage;
      else if (typeof v === "string") return v === "" ? undefined : v;
      else if (typeof v === "number" || typeof v === "bigint") return String(v);
    }
    return undefined;
  };
}

/**
 * Readers for configured message keys, by `pkg.Service/Method`, resolved against `schemas` once.
 * Throws an `Error` (a configuration error) when a method's schema is unknown or a path does not
 * resolve.
 */
export function messageKeyReaders(keys: ReadonlyMap<string, string>, schemas: Registry, where: string): Map<string, MessageKeyReader> {
  const out = new Map<string, MessageKeyReader>();
  for (const [method, path] of keys) {
    const slash = method.lastIndexOf("/");
    const svc = schemas.getService(method.slice(0, slash));
    const m = svc?.methods.find((x) => x.name === method.slice(slash + 1));
    if (m === undefined) throw new Error(`${where}: no schema for ${method} (add its descriptor set to edge.descriptor_sets)`);
    try {
      out.set(method, messageKeyReader(m.input, path));
    } catch (e) {
      throw new Error(`${where}: ${method} ${JSON.stringify(path)}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return out;
}
