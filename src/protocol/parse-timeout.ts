/**
 * Client deadlines: `grpc-timeout` (gRPC, gRPC-Web, grpc-websockets) and `Connect-Timeout-Ms`.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { ResolvedProtocolOptions } from "./options.js";

const grpcUnitMs: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/**
 * Parses `grpc-timeout`: 1–8 digits and a unit (H M S m u n). Returns whole milliseconds, rounded up
 * so that a sub-millisecond timeout is not read as "none". Null gives undefined. Invalid values throw
 * INVALID_ARGUMENT.
 */
export function parseGrpcTimeout(value: string | null | undefined): number | undefined {
  if (value === null || value === undefined) return undefined;
  const m = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (m === null) throw new ConnectError(`protocol error: invalid grpc-timeout value: ${truncate(value)}`, Code.InvalidArgument);
  return Math.ceil(parseInt(m[1]!, 10) * grpcUnitMs[m[2]!]!);
}

/**
 * Parses `Connect-Timeout-Ms`: 1–10 digits of milliseconds. Null gives undefined. Invalid values throw
 * INVALID_ARGUMENT.
 */
export function parseConnectTimeout(value: string | null | undefined): number | undefined {
  if (value === null || value === undefined) return undefined;
  if (!/^\d{1,10}$/.test(value)) throw new ConnectError(`protocol error: invalid connect-timeout-ms value: ${truncate(value)}`, Code.InvalidArgument);
  return parseInt(value, 10);
}

/** Applies `defaultTimeoutMs` (no client timeout) and clamps to `maxTimeoutMs`. */
export function effectiveTimeout(clientMs: number | undefined, opts: ResolvedProtocolOptions): number | undefined {
  let t = clientMs ?? opts.defaultTimeoutMs;
  if (opts.maxTimeoutMs !== undefined && (t === undefined || t > opts.maxTimeoutMs)) t = opts.maxTimeoutMs;
  return t;
}

function truncate(s: string): string {
  return s.length > 32 ? s.slice(0, 32) + "…" : s;
}
