/**
 * Browser side of grpc-websockets.test.ts: demo.v1.EchoService/EchoBidi through
 * @improbable-eng/grpc-web's WebSocket transport (the transport ion-sdk-js uses), driven step by step
 * by the test through `window.edgeBidi`.
 */
import { grpc } from "@improbable-eng/grpc-web";
import { EchoService } from "../../../../src/gen/demo/v1/echo_pb.js";
import { methodDefinition } from "./improbable-messages.js";

const echoBidi = methodDefinition(EchoService.method.echoBidi);

/** Everything one bidi stream reported so far. */
export interface BidiState {
  headers: Record<string, string> | undefined;
  messages: { message: string; node: string }[];
  end: { code: number; message: string; trailers: Record<string, string> } | undefined;
}

function flat(md: grpc.Metadata): Record<string, string> {
  const o: Record<string, string> = {};
  md.forEach((k, v) => (o[k] = v.join(", ")));
  return o;
}

const streams = new Map<number, { client: grpc.Client<grpc.ProtobufMessage, grpc.ProtobufMessage>; state: BidiState }>();
let nextId = 1;

const api = {
  /** Opens EchoBidi on `host` (http://…) with `metadata`; returns a stream id. */
  open(host: string, metadata: Record<string, string> = {}): number {
    const client = grpc.client(echoBidi, { host, transport: grpc.WebsocketTransport() });
    const state: BidiState = { headers: undefined, messages: [], end: undefined };
    client.onHeaders((h) => (state.headers = flat(h)));
    client.onMessage((m) => {
      const v = (m as InstanceType<typeof echoBidi.responseType>).value;
      state.messages.push({ message: v.message, node: v.node });
    });
    client.onEnd((code, message, trailers) => (state.end = { code, message, trailers: flat(trailers) }));
    client.start(new grpc.Metadata(metadata));
    const id = nextId++;
    streams.set(id, { client: client as unknown as grpc.Client<grpc.ProtobufMessage, grpc.ProtobufMessage>, state });
    return id;
  },
  send(id: number, message: string): void {
    streams.get(id)!.client.send(echoBidi.requestType.of({ message }));
  },
  finishSend(id: number): void {
    streams.get(id)!.client.finishSend();
  },
  close(id: number): void {
    streams.get(id)!.client.close();
  },
  state(id: number): BidiState {
    return streams.get(id)!.state;
  },
};

declare global {
  interface Window {
    edgeBidi: typeof api;
  }
}
window.edgeBidi = api;
