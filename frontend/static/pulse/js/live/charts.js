// Makes the charts of an app overview or transaction page grow while the page is open:
// the newest minute is redrawn from each websocket message (no polling), and after every
// (re)connection the minutes missed meanwhile are fetched from the query layer.
//
// The page marks itself with frontend/templates/frontend/live_indicator.html:
//   <span data-live-charts data-socket="/ws/..." data-api="/o/<org>/api/apps/<id>/"
//         data-type="web" [data-transaction="17"] data-resolution="60">
// and the charts drawn by apm.js carry ``el.pulseChart`` (charts/timeseries.js).
import { connectLive, setIndicator } from "./socket.js";
import { LiveSeries } from "./points.js";

const REFRESH_GAP_MS = 2000; // a transaction page refetches its newest minutes at most this often

function chartsBySource() {
  const groups = new Map();
  for (const el of document.querySelectorAll("[data-chart]")) {
    if (!el.pulseChart) continue;
    const id = el.dataset.source;
    if (!groups.has(id)) {
      const node = document.getElementById(id);
      if (!node) continue;
      groups.set(id, { data: new LiveSeries(JSON.parse(node.textContent)), charts: [] });
    }
    groups.get(id).charts.push(el);
  }
  return [...groups.values()];
}

export function startLiveCharts(indicator) {
  const d = indicator.dataset;
  const page = new URL(window.location.href);
  // A range that ends in the past, or hour/day points, do not grow minute by minute.
  if (page.searchParams.get("to") || Number(d.resolution || 60) !== 60) {
    indicator.hidden = true;
    return null;
  }
  const groups = chartsBySource();
  const type = d.type || "web";
  const transaction = d.transaction ? Number(d.transaction) : null;
  let updates = 0;
  let inFlight = false;
  let again = false;
  let lastFetch = 0;
  let timer = null;

  function apply(points, how) {
    let changed = false;
    for (const group of groups) {
      if (!group.data.merge(points)) continue;
      changed = true;
      for (const el of group.charts) el.pulseChart.pulseSetData(group.data.t, group.data.pick(el.dataset.keys));
    }
    if (changed) {
      updates += 1;
      indicator.dataset.updates = String(updates);
      indicator.dataset.lastUpdate = how;
    }
  }

  async function refresh(how) {
    if (inFlight) {
      again = true;
      return;
    }
    inFlight = true;
    lastFetch = Date.now();
    try {
      const last = groups.length ? groups[0].data.lastTime() : null;
      const from = last != null ? last - 60 : Math.floor(Date.now() / 1000) - 3600;
      const params = new URLSearchParams({ from: String(from), type });
      if (transaction != null) params.set("transaction", String(transaction));
      const response = await fetch(`${d.api}timeseries?${params}`, { credentials: "same-origin" });
      if (response.ok) {
        const body = await response.json();
        apply(body.points || [], how);
        if (how === "gap") indicator.dataset.gapFills = String(Number(indicator.dataset.gapFills || 0) + 1);
      }
    } catch (err) {
      // The next message or reconnection tries again.
    } finally {
      inFlight = false;
      if (again) {
        again = false;
        refresh(how);
      }
    }
  }

  function refreshSoon() {
    const wait = lastFetch + REFRESH_GAP_MS - Date.now();
    if (wait <= 0) refresh("push");
    else if (!timer) {
      timer = setTimeout(() => {
        timer = null;
        refresh("push");
      }, wait);
    }
  }

  setIndicator(indicator, "connecting");
  return connectLive(d.socket, {
    indicator,
    onOpen: () => refresh("gap"),
    onMessage(msg) {
      // The server skipped messages this page was too slow to take: re-read the recent minutes.
      if (msg.type === "lag") refresh("gap");
      if (msg.type !== "update") return;
      if (transaction != null) {
        // Messages carry app-wide minutes; a transaction's own minutes come from the query layer.
        if ((msg.transactions || []).includes(transaction)) refreshSoon();
        return;
      }
      apply((msg.points || {})[type] || [], "push");
    },
  });
}
