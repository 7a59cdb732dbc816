/** Renders the status API's answers into tables. */
import type { ApiResult, NodeRow, NodesResponse, RoomRow, RoomsResponse, ServiceStatsRow, StatsResponse } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { ago, count, millis, rate } from "./format.js";
import type { RateHistory } from "./history.js";

const svgNs = "http://www.w3.org/2000/svg";

/**
 * An inline SVG line of `values` (scaled to their max), `width`×`height` px, with room for `slots`
 * points: the newest is at the right edge, so a short history draws a short line.
 */
export function sparkline(values: readonly number[], slots = 60, width = 120, height = 24): SVGSVGElement {
  const svg = document.createElementNS(svgNs, "svg");
  svg.setAttribute("class", "sparkline");
  svg.setAttribute("width", String(width));
  svg.setAttribute("height", String(height));
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("aria-hidden", "true");
  const base = document.createElementNS(svgNs, "line");
  base.setAttribute("class", "base");
  base.setAttribute("x1", "0");
  base.setAttribute("x2", String(width));
  base.setAttribute("y1", String(height - 1.5));
  base.setAttribute("y2", String(height - 1.5));
  svg.append(base);
  const shown = values.slice(-slots);
  if (shown.length >= 2) {
    const max = Math.max(...shown, 1e-9);
    const step = width / (slots - 1);
    const x0 = width - (shown.length - 1) * step;
    const pts = shown.map((v, i) => `${(x0 + i * step).toFixed(1)},${(height - 2 - (v / max) * (height - 4)).toFixed(1)}`);
    const line = document.createElementNS(svgNs, "polyline");
    line.setAttribute("points", pts.join(" "));
    svg.append(line);
  }
  return svg;
}

function nodeRow(n: NodeRow): HTMLTableRowElement {
  const stale = n.lastSeenMsAgo > 5000;
  return h(
    "tr",
    { "data-nid": n.nid, class: n.ejected ? "ejected" : undefined },
    h("td", { class: "mono" }, n.nid),
    h("td", {}, n.dc || "–"),
    h("td", {}, n.source),
    h("td", { class: stale ? "num warn" : "num" }, ago(n.lastSeenMsAgo)),
    h("td", { class: "num" }, n.load === undefined ? "–" : rate(n.load)),
    h("td", { class: "num" }, count(n.inFlight)),
    h("td", {}, n.ejected ? h("span", { class: "badge bad" }, "ejected") : h("span", { class: "badge ok" }, "serving")),
  );
}

/** Fills `el` with one table of nodes per discovery service. */
export function renderNodes(el: HTMLElement, data: NodesResponse): void {
  const services = Object.keys(data.services).sort();
  if (services.length === 0) {
    replaceChildren(el, h("p", { class: "empty" }, "No nodes yet. Nodes appear here when they register in nats-discovery or as NATS micro services."));
    return;
  }
  replaceChildren(
    el,
    ...services.map((service) => {
      const nodes = data.services[service]!.slice().sort((a, b) => a.nid.localeCompare(b.nid));
      const live = nodes.filter((n) => !n.ejected).length;
      return h(
        "section",
        { class: "service", "data-service": service },
        h("h3", {}, service, " ", h("span", { class: "muted" }, `${live}/${nodes.length} serving`)),
        h(
          "table",
          { class: "nodes" },
          h("colgroup", {}, ...["nid", "dc", "source", "seen", "load", "flight", "state"].map((c) => h("col", { class: c }))),
          h(
            "thead",
            {},
            h("tr", {}, h("th", {}, "node"), h("th", {}, "DC"), h("th", {}, "source"), h("th", { class: "num" }, "last seen"), h("th", { class: "num" }, "load"), h("th", { class: "num" }, "in flight"), h("th", {}, "state")),
          ),
          h("tbody", {}, ...nodes.map(nodeRow)),
        ),
      );
    }),
  );
}

function statsRow(s: ServiceStatsRow, history: RateHistory): HTMLTableRowElement {
  const now = history.latest(s.service);
  const sampled = s.ratePerSec > 0;
  return h(
    "tr",
    { "data-service": s.service },
    h("td", {}, s.service),
    h("td", { class: "num", title: "calls per second, between the last two polls" }, now === undefined ? "–" : rate(now)),
    h("td", { title: "calls per second, one point per poll (last 30)" }, sparkline(history.of(s.service), 30, 120)),
    h("td", { class: "num" }, rate(s.ratePerSec)),
    h("td", { class: s.errorRatePerSec > 0 ? "num warn" : "num" }, rate(s.errorRatePerSec)),
    h("td", { class: "num" }, millis(s.latencyMsAvg, sampled)),
    h("td", { class: "num" }, millis(s.latencyMsP50, sampled)),
    h("td", { class: "num" }, millis(s.latencyMsP99, sampled)),
    h("td", { class: "num" }, count(s.inFlight)),
    h("td", { class: "num" }, count(s.total)),
  );
}

/** Fills `el` with the per-service call table. */
export function renderStats(el: HTMLElement, data: StatsResponse, history: RateHistory): void {
  const rows = data.services.slice().sort((a, b) => a.service.localeCompare(b.service));
  if (rows.length === 0) {
    replaceChildren(el, h("p", { class: "empty" }, "No calls yet. Try one below."));
    return;
  }
  replaceChildren(
    el,
    h(
      "table",
      { class: "stats" },
      h("colgroup", {}, ...["service", "now", "spark", "rate", "errors", "avg", "p50", "p99", "flight", "total"].map((c) => h("col", { class: c }))),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", {}, "service"),
          h("th", { class: "num" }, "now /s"),
          h("th", {}, "recent"),
          h("th", { class: "num" }, "1 min /s"),
          h("th", { class: "num" }, "err /s"),
          h("th", { class: "num" }, "avg"),
          h("th", { class: "num" }, "p50"),
          h("th", { class: "num" }, "p99"),
          h("th", { class: "num" }, "in flight"),
          h("th", { class: "num" }, "total"),
        ),
      ),
      h("tbody", {}, ...rows.map((s) => statsRow(s, history))),
    ),
  );
}

function roomRow(r: RoomRow): HTMLTableRowElement {
  return h(
    "tr",
    { "data-room": r.room, "data-service": r.service },
    h("td", { class: "mono" }, r.room),
    h("td", {}, r.service),
    h("td", { class: "mono" }, r.node),
    h("td", { class: "num" }, count(r.calls)),
    h("td", { class: "num" }, ago(r.sinceMsAgo)),
    h("td", { class: "mono small" }, r.gateways.join(", ")),
  );
}

/**
 * Fills `el` with the live rooms (calls of sticky services by room): which node holds each room, across
 * the gateways that answered. A room on two nodes of one service shows as two rows.
 */
export function renderRooms(el: HTMLElement, res: ApiResult<RoomsResponse>): void {
  if (!res.ok) {
    replaceChildren(el, h("p", { class: "empty warn" }, `Rooms unavailable: ${res.message}`));
    return;
  }
  const rows = res.data.rooms;
  if (rows.length === 0) {
    replaceChildren(el, h("p", { class: "empty" }, `No live rooms (${res.data.gateways} gateway${res.data.gateways === 1 ? "" : "s"} answered). Calls of sticky services (rtc, room) appear here by room.`));
    return;
  }
  replaceChildren(
    el,
    h(
      "table",
      { class: "rooms" },
      h(
        "thead",
        {},
        h("tr", {}, h("th", {}, "room"), h("th", {}, "service"), h("th", {}, "node"), h("th", { class: "num" }, "open calls"), h("th", { class: "num" }, "since"), h("th", {}, "gateways")),
      ),
      h("tbody", {}, ...rows.map(roomRow)),
    ),
    h("p", { class: "muted small" }, `${res.data.gateways} gateway${res.data.gateways === 1 ? "" : "s"} answered`),
  );
}
