/**
 * The `service` and `method` labels a call is counted under (metrics on every runtime, the status
 * page). Runtime-neutral.
 *
 * Label values must not be chosen by clients, or every refused call to a new method name adds a
 * series (62k refused calls to unique names took /metrics from 12 KB to 8.8 MB). So:
 * - a call that did not pass routing and authentication (the Director sets `info.service` only then)
 *   is counted under `-`/`-`;
 * - a method is named only when it is known to exist: declared by a schema the gateway has (compiled
 *   in, or an `edge.descriptor_sets` file), or — for services without a schema (ION's rtc/room) —
 *   once a call to it ended OK (its node implements it); other calls are counted under `other`;
 * - at most `maxMethods` (service, method) pairs are ever named; calls to further methods are
 *   counted under `other` (and counted in `overflowed`).
 * The service label comes from the configured services and routes: bounded by the config.
 */
import type { ConnectError } from "@connectrpc/connect";
import type { CallInfo } from "../director/types.js";

/** The labels of one call. */
export interface CallLabels {
  readonly service: string;
  readonly method: string;
}

/**
 * What the gateway knows of a protobuf service's methods: true (declared), false (the schema is known
 * and does not declare it), undefined (no schema for that service).
 */
export type MethodSchema = (protoService: string, method: string) => boolean | undefined;

/** Options of {@link CallLabeler}. */
export interface CallLabelerOptions {
  /** The schemas the gateway has. Default: none (methods are named once a call to them succeeded). */
  schema?: MethodSchema;
  /** Most (service, method) pairs ever named. Default 500. */
  maxMethods?: number;
}

/** The label for calls not routed and authenticated. */
export const unroutedLabel = "-";
/** The method label for calls to methods not (yet) known to exist, or beyond the cap. */
export const otherMethodLabel = "other";

const unrouted: CallLabels = Object.freeze({ service: unroutedLabel, method: unroutedLabel });

/** Decides call labels; one per gateway, shared by every observer so they agree. */
export class CallLabeler {
  private readonly named = new Set<string>();
  private readonly cache = new WeakMap<CallInfo, CallLabels>();
  private readonly schema: MethodSchema;
  private readonly maxMethods: number;
  /** Calls counted under `other` only because the cap was reached. */
  overflowed = 0;

  constructor(opts: CallLabelerOptions = {}) {
    this.schema = opts.schema ?? (() => undefined);
    this.maxMethods = opts.maxMethods ?? 500;
  }

  /** Number of (service, method) pairs named so far (≤ maxMethods). */
  get size(): number {
    return this.named.size;
  }

  /** The labels of an ended call (the same object for the same call, whichever observer asks first). */
  labels(info: CallInfo, error: ConnectError | undefined): CallLabels {
    let l = this.cache.get(info);
    if (!l) {
      l = this.decide(info, error);
      this.cache.set(info, l);
    }
    return l;
  }

  private decide(info: CallInfo, error: ConnectError | undefined): CallLabels {
    const service = info.service;
    if (service === undefined) return unrouted;
    // Routed calls have a valid `/pkg.Service/Method` path (the Director parsed it).
    const slash = info.path.lastIndexOf("/");
    const protoService = info.path.slice(1, slash);
    const method = info.path.slice(slash + 1);
    const key = service + "/" + method;
    if (this.named.has(key)) return { service, method };
    const declared = this.schema(protoService, method);
    const exists = declared ?? error === undefined;
    if (!exists) return { service, method: otherMethodLabel };
    if (this.named.size >= this.maxMethods) {
      this.overflowed++;
      return { service, method: otherMethodLabel };
    }
    this.named.add(key);
    return { service, method };
  }
}
