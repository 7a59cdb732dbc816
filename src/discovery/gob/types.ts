/**
 * Type descriptions for gob: what the encoder is told about a Go type, and what the decoder learns
 * from the wire. Ids below 65 are predefined by Go; user types get 65 and up, per encoder.
 */

/** Predefined gob type ids (Go `encoding/gob`). */
export const GobTypeId = {
  bool: 1,
  int: 2,
  uint: 3,
  float: 4,
  bytes: 5,
  string: 6,
  complex: 7,
  interface: 8,
  wireType: 16,
  arrayType: 17,
  commonType: 18,
  sliceType: 19,
  structType: 20,
  fieldType: 21,
  fieldTypeSlice: 22,
  mapType: 23,
  /** The first id a Go encoder gives to a user type. */
  firstUser: 65,
} as const;

/** A Go basic type, as the encoder names it. */
export type GobBasicType = "bool" | "int" | "uint" | "float" | "bytes" | "string" | "complex" | "interface";

/** A Go struct: gob sends fields by index and receivers match them by name. */
export interface GobStructType {
  readonly kind: "struct";
  /** Go's `reflect.Type.Name()`, e.g. `Node`. */
  readonly name: string;
  readonly fields: readonly GobField[];
}

/** One exported struct field. */
export interface GobField {
  readonly name: string;
  readonly type: GobType;
}

/** A Go slice (other than `[]byte`, which is basic). */
export interface GobSliceType {
  readonly kind: "slice";
  /** Go's `reflect.Type.String()`, e.g. `[]discovery.Node`. */
  readonly name: string;
  readonly elem: GobType;
}

/** A Go map. */
export interface GobMapType {
  readonly kind: "map";
  /** Go's `reflect.Type.String()`, e.g. `map[string]interface {}`. */
  readonly name: string;
  readonly key: GobType;
  readonly elem: GobType;
}

/** A Go array of fixed length. */
export interface GobArrayType {
  readonly kind: "array";
  readonly name: string;
  readonly elem: GobType;
  readonly len: number;
}

/** Any type the encoder can describe. Struct fields may refer back to their struct (recursion). */
export type GobType = GobBasicType | GobStructType | GobSliceType | GobMapType | GobArrayType;

/** A struct descriptor. */
export function gobStruct(name: string, fields: readonly GobField[]): GobStructType {
  return { kind: "struct", name, fields };
}

/** A slice descriptor. */
export function gobSlice(name: string, elem: GobType): GobSliceType {
  return { kind: "slice", name, elem };
}

/** A map descriptor. */
export function gobMap(name: string, key: GobType, elem: GobType): GobMapType {
  return { kind: "map", name, key, elem };
}

/** A type definition as received on the wire (the decoder's view). */
export type WireType =
  | { readonly kind: "struct"; readonly name: string; readonly fields: readonly { readonly name: string; readonly id: number }[] }
  | { readonly kind: "slice"; readonly name: string; readonly elem: number }
  | { readonly kind: "array"; readonly name: string; readonly elem: number; readonly len: number }
  | { readonly kind: "map"; readonly name: string; readonly key: number; readonly elem: number }
  /** GobEncoder / BinaryMarshaler / TextMarshaler: the value is opaque bytes. */
  | { readonly kind: "opaque"; readonly name: string; readonly marshaler: "gob" | "binary" | "text" };

/** A Go complex number. */
export class GobComplex {
  constructor(
    readonly real: number,
    readonly imag: number,
  ) {}
}

/** A decoded Go struct: fields by name (null prototype, so any field name is plain data). */
export type GobStruct = { readonly [field: string]: GobValue };

/**
 * A decoded gob value. Structs are null-prototype objects, maps are `Map`s, slices and arrays are
 * arrays, `[]byte` is a Uint8Array, ints are numbers (bigint beyond 2^53), interface values are their
 * concrete value (nil → null), opaque marshaler types are Uint8Array.
 */
export type GobValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | GobComplex
  | readonly GobValue[]
  | ReadonlyMap<GobValue, GobValue>
  | GobStruct;
