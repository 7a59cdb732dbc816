/**
 * Live rooms: the calls of sticky services (ION's rtc and room) grouped by room, as a Director
 * observer — which node holds each room, how many calls are open on it and since when — and the
 * exchange that gathers every gateway's table over NATS (`edge.signal.rooms`, one request answered by
 * each gateway) for the status page's `/api/rooms`. Runtime-neutral.
 */
import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import type { CallInfo, DirectorObserver } from "../director/types.js";

/** Subject every gateway answers with its live rooms (request/reply, JSON). */
export const ROOMS_SUBJECT = "edge.signal.rooms";

/** One live room on one node, as one gateway (or, merged, all gateways) sees it. */
export interface RoomRow {
  /** The sticky key: the room (ION `sid`). */
  readonly room: string;
  /** Discovery service (`rtc`, `room`). */
  readonly service: string;
  /** The node holding the room. */
  readonly node: string;
  /** Calls open on it. */
  readonly calls: number;
  /** ms since epoch when the oldest of them started. */
  readonly since: number;
  /** Gateways the calls come through. */
  readonly gateways: readonly string[];
}

interface Entry {
  room: string;
  service: string;
  node: string;
  calls: number;
  /** Start time of each open call, by call id (the oldest is `since`). */
  starts: Map<string, number>;
}

/** Upper bound on rooms tracked (new rooms past it are not listed; calls still work). */
const maxRooms = 100_000;

/** Tracks this gateway's live rooms from the Director's call events. */
export class LiveRooms implements DirectorObserver {
  private readonly entries = new Map<string, Entry>();
  private readonly byCall = new Map<string, Entry>();

  constructor(private readonly gateway: string) {}

  callRouted(info: CallInfo): void {
    if (info.room === undefined || info.service === undefined || info.nid === undefined) return;
    const k = `${info.service}\u0000${info.room}\u0000${info.nid}`;
    let e = this.entries.get(k);
    if (e === undefined) {
      if (this.entries.size >= maxRooms) return;
      e = { room: info.room, service: info.service, node: info.nid, calls: 0, starts: new Map() };
      this.entries.set(k, e);
    }
    e.calls++;
    e.starts.set(info.id, info.start);
    this.byCall.set(info.id, e);
  }

  callEnded(info: CallInfo): void {
    const e = this.byCall.get(info.id);
    if (e === undefined) return;
    this.byCall.delete(info.id);
    e.starts.delete(info.id);
    if (--e.calls === 0) this.entries.delete(`${e.service}\u0000${e.room}\u0000${e.node}`);
  }

  /** This gateway's live rooms. */
  rows(): RoomRow[] {
    const out: RoomRow[] = [];
    for (const e of this.entries.values()) out.push({ room: e.room, service: e.service, node: e.node, calls: e.calls, since: Math.min(...e.starts.values()), gateways: [this.gateway] });
    return out;
  }
}

/** Answers {@link ROOMS_SUBJECT} requests with `rooms.rows()`. Returns the subscription (unsubscribe to stop). */
export function serveRooms(nc: NatsConnection, rooms: LiveRooms): Subscription {
  return nc.subscribe(ROOMS_SUBJECT, {
    callback: (err, msg) => {
      if (err) return;
      msg.respond(JSON.stringify(rooms.rows()));
    },
  });
}

/**
 * Every gateway's live rooms, merged: one request on {@link ROOMS_SUBJECT}, answers gathered until
 * `expected` gateways replied or `timeoutMs` passed. Rows of one room on one node are added up (calls,
 * gateways; the oldest `since`). A room on two nodes of one service shows as two rows: a split.
 */
export async function gatherRooms(nc: NatsConnection, expected: number, timeoutMs: number): Promise<{ rooms: RoomRow[]; gateways: number }> {
  const replies = await nc.requestMany(ROOMS_SUBJECT, "", { strategy: "count", maxMessages: Math.max(1, expected), maxWait: timeoutMs, noMux: true });
  const merged = new Map<string, RoomRow>();
  let gateways = 0;
  for await (const m of replies) {
    let rows: RoomRow[];
    try {
      rows = m.json<RoomRow[]>();
    } catch {
      continue; // not a gateway's answer
    }
    if (!Array.isArray(rows)) continue;
    gateways++;
    for (const r of rows) {
      const k = `${r.service}\u0000${r.room}\u0000${r.node}`;
      const prev = merged.get(k);
      merged.set(k, prev ? { ...prev, calls: prev.calls + r.calls, since: Math.min(prev.since, r.since), gateways: [...prev.gateways, ...r.gateways] } : r);
    }
  }
  const rooms = [...merged.values()].sort((a, b) => a.room.localeCompare(b.room) || a.service.localeCompare(b.service) || a.node.localeCompare(b.node));
  return { rooms, gateways };
}
