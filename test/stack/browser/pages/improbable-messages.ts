/**
 * @improbable-eng/grpc-web wants google-protobuf-style message classes (`new()`, `serializeBinary()`,
 * static `deserializeBinary()`); these wrap @bufbuild/protobuf schemas into that shape, and build a
 * `MethodDefinition` from a protoc-gen-es method descriptor.
 */
import { create, fromBinary, toBinary, toJson, type DescMessage, type DescMethod, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import type { grpc } from "@improbable-eng/grpc-web";

/** A message as improbable's client handles it: the protobuf-es message in `value`. */
export interface WrappedMessage<D extends DescMessage> extends grpc.ProtobufMessage {
  value: MessageShape<D>;
}

/** The class improbable instantiates and deserializes with. */
export interface WrappedClass<D extends DescMessage> extends grpc.ProtobufMessageClass<WrappedMessage<D>> {
  /** Wraps an init shape (`{ message: "hi" }`). */
  of(init: MessageInitShape<D>): WrappedMessage<D>;
}

/** Wraps `schema` as a google-protobuf-like class. */
export function messageClass<D extends DescMessage>(schema: D): WrappedClass<D> {
  class Wrapped implements WrappedMessage<D> {
    value: MessageShape<D>;
    constructor(value?: MessageShape<D>) {
      this.value = value ?? create(schema);
    }
    serializeBinary(): Uint8Array {
      return toBinary(schema, this.value);
    }
    toObject(): {} {
      return toJson(schema, this.value) as {};
    }
    static deserializeBinary(bytes: Uint8Array): Wrapped {
      return new Wrapped(fromBinary(schema, bytes));
    }
    static of(init: MessageInitShape<D>): Wrapped {
      return new Wrapped(create(schema, init));
    }
  }
  return Wrapped;
}

/** An improbable `MethodDefinition` for a protoc-gen-es method. */
export function methodDefinition<I extends DescMessage, O extends DescMessage>(
  method: DescMethod & { input: I; output: O },
): grpc.MethodDefinition<WrappedMessage<I>, WrappedMessage<O>> & { requestType: WrappedClass<I>; responseType: WrappedClass<O> } {
  return {
    methodName: method.name,
    service: { serviceName: method.parent.typeName },
    requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
    responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
    requestType: messageClass(method.input),
    responseType: messageClass(method.output),
  };
}
