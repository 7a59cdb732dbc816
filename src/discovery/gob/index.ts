/** Go `encoding/gob`, enough for nats-discovery: a dynamic decoder and a Go-order encoder. */
export { decodeGob, type GobDecodeOptions, type GobDecoded } from "./decode.js";
export { encodeGob, GobTypeIds } from "./encode.js";
export { GobError, GobReader } from "./reader.js";
export { GobWriter } from "./writer.js";
export {
  GobComplex,
  GobTypeId,
  gobMap,
  gobSlice,
  gobStruct,
  type GobArrayType,
  type GobBasicType,
  type GobField,
  type GobMapType,
  type GobSliceType,
  type GobStruct,
  type GobStructType,
  type GobType,
  type GobValue,
  type WireType,
} from "./types.js";
