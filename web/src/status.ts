/**
 * Polls `/api/nodes`, `/api/stats` and `/api/rooms` and keeps the page current. When the gateway answers 401/403
 * it shows the token form and keeps polling with whatever token the user enters.
 */
import { getJson, type NodesResponse, type RoomsResponse, type StatsResponse } from "./api.js";
import { RateHistory } from "./history.js";
import { renderNodes, renderRooms, renderStats } from "./render.js";

/** The page elements the poller writes to. */
export interface StatusView {
  nodes: HTMLElement;
  stats: HTMLElement;
  rooms: HTMLElement;
  /** Gets the gateway's node id. */
  gateway: HTMLElement;
  /** Gets "live" / "unreachable" / "token needed" and the time of the last update. */
  state: HTMLElement;
  /** Shown while the API wants a token. */
  tokenForm: HTMLElement;
  tokenMessage: HTMLElement;
}

/** Options of {@link startStatus}. */
export interface StatusOptions {
  /** Poll period (default 1000 ms). */
  intervalMs?: number;
  /** The gateway's origin (default: this page's). */
  base?: string;
}

/** A running poller. */
export interface StatusPoller {
  /** Polls now (e.g. after a new token), then on schedule. */
  refresh(): void;
  stop(): void;
}

type State = "live" | "unreachable" | "token";

function setState(view: StatusView, state: State, text: string): void {
  view.state.dataset.state = state;
  view.state.textContent = text;
}

/** Starts polling; the first poll runs at once. */
export function startStatus(view: StatusView, opts: StatusOptions = {}): StatusPoller {
  const interval = opts.intervalMs ?? 1000;
  const base = opts.base ?? "";
  const history = new RateHistory();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  let running = false;

  const poll = async () => {
    if (running) return;
    running = true;
    try {
      const [nodes, stats, rooms] = await Promise.all([
        getJson<NodesResponse>("/api/nodes", base),
        getJson<StatsResponse>("/api/stats", base),
        getJson<RoomsResponse>("/api/rooms", base),
      ]);
      const failed = !nodes.ok ? nodes : !stats.ok ? stats : !rooms.ok && (rooms.status === 401 || rooms.status === 403) ? rooms : undefined;
      if (failed) {
        if (failed.status === 401 || failed.status === 403) {
          view.tokenForm.hidden = false;
          view.tokenMessage.textContent =
            failed.status === 401
              ? `The gateway wants a token (${failed.message}). Its services claim must include "edge".`
              : `This token may not read the status (${failed.message}).`;
          setState(view, "token", "token needed");
        } else {
          setState(view, "unreachable", failed.status ? `error ${failed.status}` : "unreachable");
        }
        return;
      }
      if (!nodes.ok || !stats.ok) return;
      view.tokenForm.hidden = true;
      view.gateway.textContent = `gateway ${nodes.data.gateway}`;
      history.add(stats.data.services.map((s) => [s.service, s.total]), Date.now());
      renderNodes(view.nodes, nodes.data);
      renderStats(view.stats, stats.data, history);
      renderRooms(view.rooms, rooms);
      setState(view, "live", `live · ${new Date().toLocaleTimeString("en-GB")}`);
    } finally {
      running = false;
    }
  };

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(async () => {
      if (!document.hidden) await poll();
      schedule();
    }, interval);
  };

  void poll().then(schedule);
  return {
    refresh() {
      void poll();
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
