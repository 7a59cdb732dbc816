/**
 * Browser side of connect-web.test.ts: calls demo.v1.EchoService with @connectrpc/connect-web and
 * reports plain JSON to the test through `window.edgeTest`.
 */
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { EchoService } from "../../../../src/gen/demo/v1/echo_pb.js";

/** What one call did, as the page saw it. */
export interface CallReport {
  ok: boolean;
  messages: { message: string; node: string }[];
  /** Response headers the page could read (after CORS). */
  headers: Record<string, string>;
  code?: string;
  error?: string;
}

function client(kind: "connect" | "grpc-web", baseUrl: string) {
  const transport: Transport = kind === "grpc-web" ? createGrpcWebTransport({ baseUrl }) : createConnectTransport({ baseUrl });
  return createClient(EchoService, transport);
}

async function report(run: (onHeader: (h: Headers) => void) => AsyncIterable<{ message: string; node: string }>): Promise<CallReport> {
  const r: CallReport = { ok: false, messages: [], headers: {} };
  const onHeader = (h: Headers) => h.forEach((v, k) => (r.headers[k] = v));
  try {
    for await (const m of run(onHeader)) r.messages.push({ message: m.message, node: m.node });
    r.ok = true;
  } catch (e) {
    const err = ConnectError.from(e);
    r.code = Code[err.code];
    r.error = err.rawMessage;
  }
  return r;
}

const api = {
  /** Echo (unary). */
  unary(kind: "connect" | "grpc-web", baseUrl: string, message: string): Promise<CallReport> {
    return report(async function* (onHeader) {
      yield await client(kind, baseUrl).echo({ message }, { onHeader, timeoutMs: 30_000 });
    });
  },
  /** EchoStream (server streaming). */
  stream(kind: "connect" | "grpc-web", baseUrl: string, message: string, repeat: number): Promise<CallReport> {
    return report((onHeader) => client(kind, baseUrl).echoStream({ message, repeat }, { onHeader, timeoutMs: 30_000 }));
  },
};

declare global {
  interface Window {
    edgeTest: typeof api;
  }
}
window.edgeTest = api;
