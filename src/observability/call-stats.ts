/**
 * Runtime-neutral call counters (the same numbers on every runtime; the status page's `/api/stats`
 * and the edge runtimes' metrics read them): calls by service/method/protocol/code, calls in flight,
 * bytes, auth failures by reason, and a one-minute rolling window of rate and latency per service.
 * Labels come from a {@link CallLabeler}: never a name a client made up.
 */
import { Code, type ConnectError } from "@connectrpc/connect";
import type { CallInfo, DirectorObserver } from "../director/types.js";
import { authFailureReasonOf } from "../auth/auth-errors.js";
import { CallLabeler } from "./call-labels.js";

/** gRPC code names, lower snake case (as Connect spells them). */
export const codeNames: readonly string[] = [
  "ok", "canceled", "unknown", "invalid_argument", "deadline_exceeded", "not_found", "already_exists",
  "permission_denied", "resource_exhausted", "failed_precondition", "aborted", "out_of_range",
  "unimplemented", "internal", "unavailable", "data_loss", "unauthenticated",
];

interface Window {
  /** second (epoch s) of each slot */
  sec: Int32Array;
  count: Uint32Array;
  errors: Uint32Array;
  latencySum: Float64Array;
  /** latencies of the current minute, for percentiles (bounded sample) */
  samples: number[];
}

const slots = 60;
const maxSamples = 2048;

/** Per-service view for the status page. */
export interface ServiceStats {
  service: string;
  inFlight: number;
  total: number;
  ratePerSec: number;
  errorRatePerSec: number;
  latencyMsAvg: number;
  latencyMsP50: number;
  latencyMsP99: number;
}

/** Call counters; also a DirectorObserver. */
export class CallStats implements DirectorObserver {
  /** `service|method|protocol|code` → count */
  readonly calls = new Map<string, number>();
  readonly authFailures = new Map<string, number>();
  readonly inFlightByService = new Map<string, number>();
  bytesIn = 0;
  bytesOut = 0;
  inFlight = 0;
  private readonly windows = new Map<string, Window>();

  /** `labeler` decides the service/method labels (share it with every other observer). */
  constructor(
    private readonly now: () => number = Date.now,
    readonly labeler: CallLabeler = new CallLabeler(),
  ) {}

  callStarted(): void {
    this.inFlight++;
  }

  /** The Director picked a node: count the call against service and node. */
  callRouted(info: CallInfo): void {
    if (info.service) this.inFlightByService.set(info.service, (this.inFlightByService.get(info.service) ?? 0) + 1);
  }

  callEnded(info: CallInfo, error: ConnectError | undefined): void {
    this.inFlight--;
    const code = error ? error.code : 0;
    const { service, method } = this.labeler.labels(info, error);
    const key = `${service}|${method}|${info.protocol}|${codeNames[code] ?? "unknown"}`;
    this.calls.set(key, (this.calls.get(key) ?? 0) + 1);
    this.bytesIn += info.bytesIn;
    this.bytesOut += info.bytesOut;
    if (info.service && info.nid !== undefined) dec(this.inFlightByService, info.service);
    if (info.service) this.record(info.service, this.now() - info.start, !!error && error.code !== Code.Canceled);
  }

  authFailed(_info: CallInfo, error: ConnectError): void {
    const reason = authFailureReason(error);
    this.authFailures.set(reason, (this.authFailures.get(reason) ?? 0) + 1);
  }

  /** Rolling one-minute figures per service. */
  services(): ServiceStats[] {
    const nowSec = Math.floor(this.now() / 1000);
    const out: ServiceStats[] = [];
    for (const [service, w] of this.windows) {
      let count = 0;
      let errors = 0;
      let sum = 0;
      for (let i = 0; i < slots; i++) {
        if (nowSec - w.sec[i]! < slots) {
          count += w.count[i]!;
          errors += w.errors[i]!;
          sum += w.latencySum[i]!;
        }
      }
      const sorted = w.samples.slice().sort((a, b) => a - b);
      const pct = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! : 0);
      let total = 0;
      for (const [k, v] of this.calls) if (k.startsWith(`${service}|`)) total += v;
      out.push({
        service,
        inFlight: this.inFlightByService.get(service) ?? 0,
        total,
        ratePerSec: count / slots,
        errorRatePerSec: errors / slots,
        latencyMsAvg: count ? sum / count : 0,
        latencyMsP50: pct(0.5),
        latencyMsP99: pct(0.99),
      });
    }
    return out;
  }

  private record(service: string, ms: number, isError: boolean): void {
    let w = this.windows.get(service);
    if (!w) {
      w = { sec: new Int32Array(slots), count: new Uint32Array(slots), errors: new Uint32Array(slots), latencySum: new Float64Array(slots), samples: [] };
      this.windows.set(service, w);
    }
    const sec = Math.floor(this.now() / 1000);
    const i = sec % slots;
    if (w.sec[i] !== sec) {
      w.sec[i] = sec;
      w.count[i] = 0;
      w.errors[i] = 0;
      w.latencySum[i] = 0;
    }
    w.count[i]!++;
    if (isError) w.errors[i]!++;
    w.latencySum[i]! += ms;
    if (w.samples.length < maxSamples) w.samples.push(ms);
    else w.samples[Math.floor(Math.random() * maxSamples)] = ms;
  }
}

function dec(m: Map<string, number>, k: string): void {
  const v = (m.get(k) ?? 1) - 1;
  if (v <= 0) m.delete(k);
  else m.set(k, v);
}

/**
 * A short label for why authentication failed (metrics label; never contains token data): the reason
 * the authenticator refused the token with (src/auth/auth-errors.ts), never read from the message.
 */
export function authFailureReason(error: ConnectError): string {
  if (error.code === Code.PermissionDenied) return "permission_denied";
  return authFailureReasonOf(error) ?? "invalid";
}

/** Calls every observer in turn. */
export function combineObservers(...list: (DirectorObserver | undefined)[]): DirectorObserver {
  const obs = list.filter((o): o is DirectorObserver => !!o);
  return {
    callStarted: (i) => obs.forEach((o) => o.callStarted?.(i)),
    callRouted: (i) => obs.forEach((o) => o.callRouted?.(i)),
    callEnded: (i, e) => obs.forEach((o) => o.callEnded?.(i, e)),
    authFailed: (i, e) => obs.forEach((o) => o.authFailed?.(i, e)),
  };
}
