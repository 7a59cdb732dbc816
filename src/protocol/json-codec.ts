/**
 * JSON support from protobuf schemas: a {@link JsonCodecLookup} built from a `@bufbuild/protobuf`
 * Registry (compiled `_pb` files, or a FileDescriptorSet loaded at runtime with `createFileRegistry`).
 */
import { fromBinary, fromJsonString, toBinary, toJsonString, type DescMethod, type Registry } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { JsonCodec, JsonCodecLookup } from "./options.js";

/** Options of {@link createJsonCodecLookup}. */
export interface JsonCodecOptions {
  /** Refuse unknown JSON fields instead of ignoring them. Default false (ignore, as connect-es does). */
  strict?: boolean;
  /** Write fields with default values too. Default false. */
  alwaysEmitImplicit?: boolean;
}

/**
 * Creates a lookup that finds `/pkg.Service/Method` in the registry and converts its request from JSON
 * to binary and its response from binary to JSON. Codecs are cached per known path; unknown paths are
 * not cached (clients choose paths, so a negative cache would grow without bound).
 */
export function createJsonCodecLookup(registry: Registry, opts?: JsonCodecOptions): JsonCodecLookup {
  const cache = new Map<string, JsonCodec>();
  const readOpts = { ignoreUnknownFields: !opts?.strict, registry };
  const writeOpts = { alwaysEmitImplicit: opts?.alwaysEmitImplicit ?? false, registry };
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const encoder = new TextEncoder();
  return (path) => {
    const hit = cache.get(path);
    if (hit !== undefined) return hit;
    const method = findMethod(registry, path);
    if (method === undefined) return undefined;
    const codec: JsonCodec = {
      requestToBinary(json) {
        try {
          return toBinary(method.input, fromJsonString(method.input, decoder.decode(json), readOpts));
        } catch (e) {
          // @bufbuild/protobuf's errors already say "cannot decode message|field X from JSON: …": one message, as connect-es answers.
          const text = e instanceof Error ? e.message : String(e);
          throw new ConnectError(text.startsWith("cannot decode ") ? text : `cannot decode message ${method.input.typeName} from JSON: ${text}`, Code.InvalidArgument);
        }
      },
      responseToJson(bin) {
        try {
          return encoder.encode(toJsonString(method.output, fromBinary(method.output, bin), writeOpts));
        } catch (e) {
          throw new ConnectError(`cannot encode ${method.output.typeName} as JSON: ${e instanceof Error ? e.message : String(e)}`, Code.Internal);
        }
      },
    };
    cache.set(path, codec);
    return codec;
  };
}

/** Finds a method by its path `/pkg.Service/Method`. */
export function findMethod(registry: Registry, path: string): DescMethod | undefined {
  const slash = path.lastIndexOf("/");
  if (slash <= 1 || path[0] !== "/") return undefined;
  const service = registry.getService(path.slice(1, slash));
  const name = path.slice(slash + 1);
  return service?.methods.find((m) => m.name === name);
}
