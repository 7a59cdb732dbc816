/**
 * Example: a chat room node for ion-sdk-js's `Room`, written with the node SDK (`edge-signal/node`).
 * It serves ION's `room.RoomSignal/Signal` (proto/ion/room/room.proto) over nats-grpc and registers
 * as discovery service `room`, so the gateway routes the SDK's room calls to it: join, leave, and
 * chat messages to everyone else in the room (or to one peer by uid), with peer events. Rooms live in
 * this process's memory. Node (the runner at the bottom); the service itself is runtime-neutral.
 *
 *   node --import tsx examples/room-node.ts --nats nats://127.0.0.1:4222
 *
 * In a project that installed the package, import from "edge-signal/node" and "edge-signal/nats/node"
 * instead of ../src, and generate room_pb.js from ION's room.proto with buf + protoc-gen-es.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { NatsConnection } from "@nats-io/nats-core";
import { ErrorType, PeerState, Role, RoomSignal, type Peer, type ReplySchema } from "../src/gen/ion/room/room_pb.js";
import { implement, startNode, type HandlerContext, type RunningNode, type ServiceImpl } from "../src/node/index.js";

type Reply = MessageInitShape<typeof ReplySchema>;

interface Member {
  readonly peer: Peer;
  readonly send: (reply: Reply) => void;
}

/** The uid the gateway verified (its JWT's `uid` claim, forwarded as `x-ion-uid`), if any. */
function verifiedUid(ctx: HandlerContext): string | undefined {
  return ctx.metadata.get("x-ion-uid")?.[0];
}

/** The `room.RoomSignal` implementation over one in-memory set of rooms (sid → uid → member). */
export function roomSignal(rooms = new Map<string, Map<string, Member>>()): ServiceImpl<typeof RoomSignal> {
  const others = (sid: string, uid: string) => [...(rooms.get(sid)?.values() ?? [])].filter((m) => m.peer.uid !== uid);
  return {
    async *signal(requests, ctx) {
      // Replies to this caller come from its own requests and from other members' events: one queue.
      const queue: Reply[] = [];
      let wake: (() => void) | undefined;
      let ended = false;
      const send = (reply: Reply) => {
        queue.push(reply);
        wake?.();
      };
      let me: { sid: string; uid: string } | undefined;
      const leave = () => {
        if (!me) return;
        const room = rooms.get(me.sid);
        const member = room?.get(me.uid);
        if (member?.send === send) {
          room!.delete(me.uid);
          if (room!.size === 0) rooms.delete(me.sid);
          for (const m of others(me.sid, me.uid)) m.send({ payload: { case: "Peer", value: { Peer: member.peer, state: PeerState.LEAVE } } });
        }
        me = undefined;
      };
      const readRequests = (async () => {
        for await (const req of requests) {
          const p = req.payload;
          if (p.case === "join") {
            const peer = p.value.peer;
            const uid = verifiedUid(ctx);
            if (!peer || !peer.sid || !peer.uid) {
              send({ payload: { case: "join", value: { success: false, error: { code: ErrorType.InvalidParams, reason: "peer.sid and peer.uid are required" } } } });
            } else if (uid !== undefined && uid !== peer.uid) {
              send({ payload: { case: "join", value: { success: false, error: { code: ErrorType.PermissionDenied, reason: "peer.uid differs from the token's uid" } } } });
            } else {
              leave();
              let room = rooms.get(peer.sid);
              if (!room) rooms.set(peer.sid, (room = new Map()));
              const existing = [...room.values()];
              room.set(peer.uid, { peer, send });
              me = { sid: peer.sid, uid: peer.uid };
              send({ payload: { case: "join", value: { success: true, role: existing.length === 0 ? Role.Host : Role.Guest, room: { sid: peer.sid, name: peer.sid } } } });
              for (const m of existing) send({ payload: { case: "Peer", value: { Peer: m.peer, state: PeerState.JOIN } } });
              for (const m of existing) m.send({ payload: { case: "Peer", value: { Peer: peer, state: PeerState.JOIN } } });
            }
          } else if (p.case === "sendMessage") {
            const msg = p.value.message;
            if (!me || p.value.sid !== me.sid || !msg) {
              send({ payload: { case: "sendMessage", value: { success: false, error: { code: ErrorType.PeerNotExist, reason: "join the room first" } } } });
              continue;
            }
            const from = me.uid; // the sender is who joined on this stream, whatever `from` says
            const to = msg.to === "" || msg.to === "all" ? others(me.sid, from) : others(me.sid, from).filter((m) => m.peer.uid === msg.to);
            for (const m of to) m.send({ payload: { case: "message", value: { from, to: msg.to, type: msg.type, payload: msg.payload } } });
            send({ payload: { case: "sendMessage", value: { success: true } } });
          } else if (p.case === "leave") {
            const ok = me !== undefined && p.value.sid === me.sid && p.value.uid === me.uid;
            if (ok) leave();
            send({ payload: { case: "leave", value: ok ? { success: true } : { success: false, error: { code: ErrorType.PeerNotExist, reason: "not in that room" } } } });
          }
        }
      })();
      // The stream ends when the client half-closes or goes away; either way this caller leaves.
      const finished = readRequests.finally(() => {
        leave();
        ended = true;
        wake?.();
      });
      finished.catch(() => {}); // awaited below; this only keeps an early return from leaving it unhandled
      const onAbort = () => {
        ended = true;
        wake?.();
      };
      ctx.signal.addEventListener("abort", onAbort, { once: true });
      try {
        for (;;) {
          const next = queue.shift();
          if (next) {
            yield next;
            continue;
          }
          if (ended) break;
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
        }
        await finished; // a malformed request fails the call with its status
      } finally {
        ctx.signal.removeEventListener("abort", onAbort);
        leave();
      }
    },
  };
}

/** Starts the room node on `nc` (discovery service `room`). */
export function startRoomNode(nc: NatsConnection, opts: { natsUrl?: string; nid?: string } = {}): Promise<RunningNode> {
  return startNode(nc, { service: "room", implementations: [implement(RoomSignal, roomSignal())], ...opts });
}

// The runner: `node --import tsx examples/room-node.ts --nats nats://127.0.0.1:4222`.
if (import.meta.url === (await import("node:url")).pathToFileURL(process.argv[1] ?? "").href) {
  const { parseArgs } = await import("node:util");
  const { connectNats } = await import("../src/runtime/node/nats-connect.js");
  const { values } = parseArgs({ options: { nats: { type: "string", default: process.env.NATS_URL ?? "nats://127.0.0.1:4222" } } });
  const nc = await connectNats(values.nats!, { name: "room-node" });
  const node = await startRoomNode(nc, { natsUrl: values.nats! });
  process.stdout.write(`room node ${node.nid} serving room.RoomSignal on ${values.nats} (registered: ${await node.registered})\n`);
  const stop = async () => {
    await node.close();
    await nc.drain();
    process.exit(0);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}
