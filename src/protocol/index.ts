/**
 * What every wire-protocol adapter shares: the HTTP seam (universal request and response sink), the
 * Call seam, framing, status, timeouts, metadata, limits.
 */
export type { Call, CallHandler, CallResponder, CallShape, WireProtocol } from "../core/call.js";
export type { UniversalBody, UniversalRequest, UniversalResponseSink, UniversalHandler } from "./universal.js";
export { type Metadata, createMetadata, appendMetadata, firstValue } from "../core/metadata.js";
export {
  type ProtocolOptions,
  type ResolvedProtocolOptions,
  type JsonCodec,
  type JsonCodecLookup,
  type RequestInfo,
  type ServeContext,
  resolveProtocolOptions,
  serveContext,
  defaultMaxMessageBytes,
  defaultMaxMetadataBytes,
  defaultHighWaterMarkBytes,
} from "./options.js";
export {
  type Envelope,
  EnvelopeDecoder,
  readEnvelopes,
  createEnvelopeDecoderStream,
  encodeEnvelope,
  encodeEnvelopePrefix,
  readUint32,
  flagCompressed,
  flagConnectEndStream,
  flagGrpcWebTrailer,
  envelopePrefixBytes,
} from "./envelope.js";
export { codeToHttpStatus, codeFromHttpStatus, codeToString } from "./http-status.js";
export { parseGrpcTimeout, parseConnectTimeout, effectiveTimeout } from "./parse-timeout.js";
export {
  headersToMetadata,
  appendMetadataToHeaders,
  appendErrorMetadataToHeaders,
  isProtocolHeader,
  isValidMetadataKey,
  isValidMetadataValue,
  MetadataCollector,
} from "./metadata-headers.js";
export { parseHeaderBlock, encodeHeaderBlock, type ParsedHeaderBlock } from "./header-block.js";
export { grpcStatusEntries, encodeGrpcMessage } from "./grpc-status.js";
export { Base64Decoder, base64Decode, base64Encode, base64EncodeToBytes } from "./base64.js";
export { gzip, gunzip, acceptsGzip, parseRequestEncoding, concatBytes, type Encoding } from "./compression.js";
export { readBody } from "./read-body.js";
export { createMethodSpecLookup, singleRequestKind, allowedHttpMethods, type MethodSpec, type MethodSpecLookup } from "./method-spec.js";
export { createJsonCodecLookup, findMethod, type JsonCodecOptions } from "./json-codec.js";
export { createResponseStream, type ResponseStreamWriter } from "./response-stream.js";
export { MessageQueue, singleMessage } from "./message-queue.js";
export { RequestStream, createEnvelopeUnwrapper, type RequestStreamOptions, type ChunkDecoder } from "./request-stream.js";
export { runHandler, clientCancelled } from "./run-handler.js";
export { linkClientSignal, type ClientWatch } from "./client-signal.js";
export { requestPath } from "./request-path.js";
export { isOriginAllowed } from "./origin.js";
