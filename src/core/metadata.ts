/**
 * gRPC metadata as the gateway carries it: lower-case keys, each with a list of values.
 * A `Map` so hostile keys (`__proto__`, `constructor`) are plain data.
 */
export type Metadata = Map<string, string[]>;

/** Creates metadata from `[key, value]` pairs or a record; keys are lower-cased. */
export function createMetadata(init?: Iterable<[string, string | string[]]> | Record<string, string | string[]>): Metadata {
  const md: Metadata = new Map();
  if (!init) return md;
  const entries = Symbol.iterator in (init as object)
    ? (init as Iterable<[string, string | string[]]>)
    : Object.entries(init as Record<string, string | string[]>);
  for (const [k, v] of entries) appendMetadata(md, k, v);
  return md;
}

/** Appends one or more values under a (lower-cased) key. */
export function appendMetadata(md: Metadata, key: string, value: string | string[]): void {
  const k = key.toLowerCase();
  const list = md.get(k);
  if (Array.isArray(value)) {
    if (list) list.push(...value);
    else md.set(k, value.slice());
  } else if (list) list.push(value);
  else md.set(k, [value]);
}

/** The first value of a key, or undefined. */
export function firstValue(md: Metadata, key: string): string | undefined {
  return md.get(key)?.[0];
}
