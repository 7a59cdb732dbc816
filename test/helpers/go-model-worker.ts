/**
 * Worker-thread entry of the Go-behaviour model node (test/helpers/go-model-node.ts): serves the model
 * on its own event loop and answers the test thread's requests (start, stats, metadata, reset, window, close).
 */
import { parentPort, workerData } from "node:worker_threads";
import { serveGoModel, type GoModelOptions, type GoModelServer } from "./go-model-node.js";

let server: GoModelServer | undefined;
parentPort!.on("message", (m: { id: number; op: string }) => {
  void (async () => {
    let value: unknown;
    switch (m.op) {
      case "start":
        server = await serveGoModel(workerData as GoModelOptions);
        value = server.nid;
        break;
      case "stats":
        value = { ...server!.stats };
        break;
      case "metadata":
        value = server!.metadataSeen.map((s) => ({ method: s.method, metadata: [...s.metadata] }));
        break;
      case "window":
        value = { coalescedStallMs: server!.coalescedStallMs(), stats: { ...server!.stats } };
        break;
      case "reset":
        server!.reset();
        break;
      case "close":
        await server?.close();
        break;
    }
    parentPort!.postMessage({ id: m.id, value });
  })();
});
