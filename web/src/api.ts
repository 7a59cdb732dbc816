/** The gateway's status API (`/api/nodes`, `/api/stats`, `/api/rooms`), as the page reads it. */
import { authHeaders } from "./token.js";

/** One node of `/api/nodes`. */
export interface NodeRow {
  nid: string;
  dc: string;
  /** `discovery` (nats-discovery) or `micro` (NATS micro). */
  source: string;
  lastSeenMsAgo: number;
  load?: number;
  inFlight: number;
  ejected: boolean;
}

/** `/api/nodes`: live nodes by discovery service. */
export interface NodesResponse {
  gateway: string;
  services: Record<string, NodeRow[]>;
}

/** One service of `/api/stats` (rolling one-minute window). */
export interface ServiceStatsRow {
  service: string;
  inFlight: number;
  total: number;
  ratePerSec: number;
  errorRatePerSec: number;
  latencyMsAvg: number;
  latencyMsP50: number;
  latencyMsP99: number;
}

/** `/api/stats`: call figures per service. */
export interface StatsResponse {
  gateway: string;
  inFlight: number;
  services: ServiceStatsRow[];
}

/** One live room on one node (`/api/rooms`). */
export interface RoomRow {
  room: string;
  service: string;
  node: string;
  calls: number;
  sinceMsAgo: number;
  gateways: string[];
}

/** `/api/rooms`: live rooms of sticky services, across the gateways that answered. */
export interface RoomsResponse {
  gateway: string;
  gateways: number;
  rooms: RoomRow[];
}

/** The outcome of one API read. */
export type ApiResult<T> =
  | { ok: true; data: T }
  /** `status` 401/403: a token is needed (or not good enough); 0: the gateway is unreachable. */
  | { ok: false; status: number; message: string };

/** GETs `path` from `base` (default: this page's origin) with the stored token, as JSON. */
export async function getJson<T>(path: string, base = ""): Promise<ApiResult<T>> {
  let res: Response;
  try {
    res = await fetch(base + path, { headers: { accept: "application/json", ...authHeaders() }, cache: "no-store" });
  } catch (e) {
    return { ok: false, status: 0, message: e instanceof Error ? e.message : String(e) };
  }
  if (!res.ok) {
    let message = res.statusText;
    try {
      const body = (await res.json()) as { message?: string };
      if (body.message) message = body.message;
    } catch {
      // not JSON
    }
    return { ok: false, status: res.status, message };
  }
  return { ok: true, data: (await res.json()) as T };
}
