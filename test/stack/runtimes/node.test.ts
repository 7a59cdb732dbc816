/** The runtime suite on Node: the stack's own gateway (startNodeGateway, NATS over WebSocket). */
import { runtimeSuite } from "./suite.js";

runtimeSuite("Node (startNodeGateway)", async (stack) => ({ url: stack.url, stop: async () => {} }));
