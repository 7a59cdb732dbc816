/** nats-grpc (cloudwebrtc/nats-grpc v1.0.0 wire format): client, server, subjects, envelopes, why a call ended. */
export * from "./subject.js";
export * from "./envelope.js";
export { InboxMux } from "./inbox.js";
export { NrpcClient, codeFromNumber, type CallOptions, type ClientStream, type ClientStreamEvents, type NrpcClientOptions } from "./client.js";
export { NeverReachedError, NotServedError, StoppedAnsweringError, NodeDownError, NatsUnavailableError, MaxPayloadError, isNeverReached, isNotServed, type NrpcReason } from "./errors.js";
export { NrpcServer, type NrpcServerOptions, type RawMethodHandler, type ServerCall } from "./server.js";
export { createServiceClient, rawCall, registerService, type CallResult, type HandlerContext, type ServiceClient, type ServiceImpl } from "./typed.js";
