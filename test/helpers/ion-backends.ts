/**
 * Stand-ins for ION's room and SFU nodes, for the ion-sdk-js browser test: `room.RoomSignal/Signal`
 * and `rtc.RTC/Signal` served over nats-grpc (typed with `registerService`, generated from
 * proto/ion/*.proto) and registered in nats-discovery as services `room` and `rtc`. Every call is
 * recorded: metadata, the exact request bytes, and how the stream ended.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { Role as RoomRole, RoomSignal } from "../../src/gen/ion/room/room_pb.js";
import { RTC, Target } from "../../src/gen/ion/rtc/rtc_pb.js";
import { DiscoveryClient, randomNid, type KeepAliveHandle } from "../../src/discovery/index.js";
import { NrpcServer, registerService, type RawMethodHandler, type ServerCall } from "../../src/nrpc/index.js";
import type { Metadata } from "../../src/core/metadata.js";

/** One call a backend served. */
export interface RecordedCall {
  readonly method: string;
  readonly metadata: Metadata;
  /** Request messages exactly as they arrived (protobuf bytes). */
  readonly requests: Uint8Array[];
  /** The request stream ended by the client's half-close. */
  requestsEnded: boolean;
  /** The call was cancelled (client gone, WebSocket closed). */
  aborted: boolean;
}

/** A running stand-in node. */
export interface IonBackend {
  readonly nid: string;
  readonly calls: RecordedCall[];
  close(): Promise<void>;
}

/** Registers with `server` through a recorder: each handler sees the call with a tapped request stream. */
function recording(server: NrpcServer, calls: RecordedCall[]): NrpcServer {
  const wrap = (fn: RawMethodHandler): RawMethodHandler => (call) => {
    const rec: RecordedCall = { method: `${call.service}/${call.method}`, metadata: call.metadata, requests: [], requestsEnded: false, aborted: call.signal.aborted };
    calls.push(rec);
    call.signal.addEventListener("abort", () => (rec.aborted = true), { once: true });
    const requests = (async function* () {
      for await (const b of call.requests) {
        rec.requests.push(new Uint8Array(b)); // a copy, as a plain Uint8Array
        yield b;
      }
      rec.requestsEnded = true;
    })();
    const tapped: ServerCall = {
      service: call.service,
      method: call.method,
      metadata: call.metadata,
      peerNid: call.peerNid,
      signal: call.signal,
      requests,
      setHeader: (md) => call.setHeader(md),
      setTrailer: (md) => call.setTrailer(md),
      send: (d) => call.send(d),
    };
    return fn(tapped);
  };
  return {
    register: (service: string, methods: Record<string, RawMethodHandler>) =>
      server.register(service, Object.fromEntries(Object.entries(methods).map(([k, fn]) => [k, wrap(fn)]))),
  } as NrpcServer;
}

function announce(nc: NatsConnection, nid: string, service: string, natsUrl: string): KeepAliveHandle {
  return new DiscoveryClient(nc).keepAlive({
    nid,
    service,
    dc: "dc1",
    rpc: { protocol: "nats-grpc", addr: natsUrl, params: {} },
    extraInfo: {},
    source: "discovery",
    lastSeen: Date.now(),
  });
}

/** Announces `server`'s node `nid` as serving `service` once its subscriptions are in, and returns the backend. */
async function announced(nc: NatsConnection, server: NrpcServer, nid: string, service: string, natsUrl: string, calls: RecordedCall[]): Promise<IonBackend> {
  await nc.flush();
  const reg = announce(nc, nid, service, natsUrl);
  await reg.ready;
  return {
    nid,
    calls,
    async close() {
      server.close();
      await reg.close();
    },
  };
}

/** Waits until `signal` aborts (a stream that stays open until the client leaves). */
function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => (signal.aborted ? resolve() : signal.addEventListener("abort", () => resolve(), { once: true })));
}

/**
 * The room node: answers `join` with `JoinReply{success, role: Host, room{sid, name}}` and `leave`
 * with `LeaveReply{success}`; the stream ends when the client half-closes.
 */
export async function startRoomBackend(nc: NatsConnection, natsUrl: string, roomName = "edge-room"): Promise<IonBackend> {
  const nid = randomNid("room");
  const calls: RecordedCall[] = [];
  const server = new NrpcServer(nc, { nid });
  registerService(recording(server, calls), RoomSignal, {
    async *signal(reqs) {
      for await (const req of reqs) {
        if (req.payload.case === "join") {
          const sid = req.payload.value.peer?.sid ?? "";
          yield { payload: { case: "join", value: { success: true, role: RoomRole.Host, room: { sid, name: roomName } } } };
        } else if (req.payload.case === "leave") {
          yield { payload: { case: "leave", value: { success: true } } };
        }
      }
    },
  });
  return announced(nc, server, nid, "room", natsUrl, calls);
}

/**
 * Turns the browser's offer into an answer it accepts (same media sections, `setup:active`): enough
 * for the SDK to apply `JoinReply.description`; no media flows without a real SFU.
 */
export function answerFor(offerSdp: string): string {
  return offerSdp.replace(/a=setup:actpass/g, "a=setup:active");
}

/**
 * The SFU node: answers `join` with `JoinReply{success, description{answer}}`, keeps the stream open
 * (trickles are recorded) until the client goes away.
 */
export async function startRtcBackend(nc: NatsConnection, natsUrl: string): Promise<IonBackend> {
  const nid = randomNid("sfu");
  const calls: RecordedCall[] = [];
  const server = new NrpcServer(nc, { nid });
  registerService(recording(server, calls), RTC, {
    async *signal(reqs, ctx) {
      for await (const req of reqs) {
        if (req.payload.case === "join") {
          const sdp = answerFor(req.payload.value.description?.sdp ?? "");
          yield { payload: { case: "join", value: { success: true, description: { target: Target.PUBLISHER, type: "answer", sdp } } } };
        }
      }
      await aborted(ctx.signal);
    },
  });
  return announced(nc, server, nid, "rtc", natsUrl, calls);
}
