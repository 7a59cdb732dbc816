/**
 * A response message as the client asked for it: binary protobuf as the backend sent it, or JSON
 * through the method's codec. Shared by the streaming adapters.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { JsonCodec } from "./options.js";

/** The bytes to send for `data`, or the ConnectError (INTERNAL) to end the call with. */
export function responseMessage(codec: JsonCodec | undefined, data: Uint8Array): Uint8Array | ConnectError {
  if (codec === undefined) return data;
  try {
    return codec.responseToJson(data);
  } catch (e) {
    return ConnectError.from(e, Code.Internal);
  }
}
