/**
 * Test helper: `test.v1.Probe`, a raw nats-grpc service for tests of the nrpc layer (runs in the test
 * process, on a real NrpcServer): `Wait` waits until the call is aborted, `Raw` echoes every request
 * message, raw, in order. Each call is recorded in `seen`.
 */
import type { NrpcServer, ServerCall } from "../../src/nrpc/index.js";

/** Registers `test.v1.Probe` on `srv`, pushing each call it serves to `seen`. */
export function registerProbe(srv: NrpcServer, seen: ServerCall[]): void {
  srv.register("test.v1.Probe", {
    Wait: async (call) => {
      seen.push(call);
      await new Promise<void>((resolve) => call.signal.addEventListener("abort", () => resolve(), { once: true }));
    },
    Raw: async (call) => {
      seen.push(call);
      for await (const m of call.requests) call.send(m);
    },
  });
}
