/** A node record for tests that need one without discovery (balancer, Director; Node test process). */

import type { NodeInfo } from "../../src/core/node-info.js";

/** A live node record as the node table would hold it. */
export function node(nid: string, extraInfo: Record<string, unknown> = {}, service = "rtc"): NodeInfo {
  return {
    nid,
    service,
    dc: "dc1",
    rpc: { protocol: "nats-grpc", addr: "nats://127.0.0.1:4222", params: {} },
    extraInfo,
    source: "discovery",
    lastSeen: 0,
  };
}
