/**
 * Prometheus metrics on Node (`prom-client`), served at `/metrics`: calls by service/method/protocol/
 * code, latency histograms, calls in flight, bytes, NATS connection state and reconnects, discovery
 * node counts, auth failures by reason. Service and method labels come from the gateway's
 * CallLabeler (src/observability/call-labels.ts), so clients cannot add series. Node only.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { ConnectError } from "@connectrpc/connect";
import type { CallInfo, DirectorObserver } from "../../director/types.js";
import type { CallLabels } from "../../observability/call-labels.js";
import { authFailureReason, codeNames } from "../../observability/call-stats.js";

/** Live values the metrics read at scrape time. */
export interface MetricsSources {
  natsConnected(): boolean;
  nodeCounts(): Iterable<[service: string, count: number]>;
  /** The labels of an ended call (the gateway's CallLabeler, shared with the status page's counters). */
  callLabels(info: CallInfo, error: ConnectError | undefined): CallLabels;
}

/** The gateway's Prometheus registry and its observer. */
export interface GatewayMetrics extends DirectorObserver {
  readonly registry: Registry;
  /** Count a NATS reconnect. */
  natsReconnected(): void;
  /** Prometheus text exposition. */
  text(): Promise<string>;
}

/** Creates the metrics; `defaults` adds process metrics (CPU, memory, event loop). */
export function createGatewayMetrics(sources: MetricsSources, defaults = true): GatewayMetrics {
  const registry = new Registry();
  if (defaults) collectDefaultMetrics({ register: registry, prefix: "edge_signal_" });
  const calls = new Counter({
    name: "edge_signal_calls_total",
    help: "Calls handled, by service, method, wire protocol and gRPC code.",
    labelNames: ["service", "method", "protocol", "code"] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: "edge_signal_call_duration_seconds",
    help: "Call duration from arrival to final status.",
    labelNames: ["service", "protocol"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60, 600],
    registers: [registry],
  });
  const open = new Gauge({ name: "edge_signal_calls_in_flight", help: "Calls (streams) open now.", registers: [registry] });
  const bytesIn = new Counter({ name: "edge_signal_bytes_in_total", help: "Request message bytes forwarded to backends.", registers: [registry] });
  const bytesOut = new Counter({ name: "edge_signal_bytes_out_total", help: "Response message bytes returned to clients.", registers: [registry] });
  const authFailures = new Counter({
    name: "edge_signal_auth_failures_total",
    help: "Calls rejected by authentication or authorization, by reason.",
    labelNames: ["reason"] as const,
    registers: [registry],
  });
  const reconnects = new Counter({ name: "edge_signal_nats_reconnects_total", help: "NATS reconnects.", registers: [registry] });
  new Gauge({
    name: "edge_signal_nats_connected",
    help: "1 while the NATS connection is up.",
    registers: [registry],
    collect() {
      this.set(sources.natsConnected() ? 1 : 0);
    },
  });
  new Gauge({
    name: "edge_signal_discovery_nodes",
    help: "Live nodes per discovery service.",
    labelNames: ["service"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [service, n] of sources.nodeCounts()) this.set({ service }, n);
    },
  });

  return {
    registry,
    callStarted() {
      open.inc();
    },
    callEnded(info: CallInfo, error: ConnectError | undefined) {
      open.dec();
      const { service, method } = sources.callLabels(info, error);
      calls.inc({ service, method, protocol: info.protocol, code: codeNames[error ? error.code : 0] ?? "unknown" });
      duration.observe({ service, protocol: info.protocol }, (Date.now() - info.start) / 1000);
      if (info.bytesIn) bytesIn.inc(info.bytesIn);
      if (info.bytesOut) bytesOut.inc(info.bytesOut);
    },
    authFailed(_info: CallInfo, error: ConnectError) {
      authFailures.inc({ reason: authFailureReason(error) });
    },
    natsReconnected() {
      reconnects.inc();
    },
    text() {
      return registry.metrics();
    },
  };
}
