// The Live page: every sampled transaction as a dot (x = end time, y = response time,
// errors red) over a sliding window, drag a rectangle to list the dots inside, pause and
// resume; beside it throughput, average, p95 and transactions in flight of the last minute.
import uPlot from "uplot";
import { formatMs, formatRate, formatTime } from "../charts/format.js";
import { COLORS } from "../charts/palette.js";
import { connectLive } from "./socket.js";

const MAX_DOTS = 20000; // oldest dots go first; the window rarely holds this many
const SELECTION_ROWS = 500;
const OK_COLOR = "#2563eb";
const ERROR_COLOR = COLORS.p99; // red

const utc = (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC");

// Events from the websocket are arrays; from the events endpoint, objects. One shape here.
function fromApi(e) {
  return [e.t, e.duration_ms, e.error ? 1 : 0, e.name, e.has_trace ? e.trace_id : null, e.status, e.transaction_id];
}

// The same transaction from a message and from the events endpoint: float noise aside, equal.
const keyOf = (e) => `${Number(e[0]).toFixed(3)}|${Math.round(e[1] * 10)}|${e[3]}`;

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text != null) node.textContent = text;
  return node;
}

export function startLivePage(root) {
  const d = root.dataset;
  const windowSeconds = Number(d.window || 300);
  const plotEl = root.querySelector("[data-live-scatter]");
  const pauseBtn = root.querySelector("[data-live-pause]");
  const droppedEl = root.querySelector("[data-live-dropped]");
  const indicator = root.querySelector("[data-live-indicator]");
  const selection = document.querySelector("[data-live-selection]");
  const stat = (name) => root.querySelector(`[data-live-stat="${name}"]`);

  let offset = 0; // server clock - browser clock, seconds
  let paused = false;
  let dots = []; // sorted by end time
  const seen = new Set();
  let held = []; // arrived while paused
  const minutes = new Map(); // minute start -> web stats point
  let dropped = [];
  let newest = 0;

  const now = () => Date.now() / 1000 + offset;

  const chart = new uPlot(
    {
      width: Math.max(300, plotEl.clientWidth),
      height: 360,
      tzDate: utc,
      legend: { show: false },
      cursor: { drag: { x: true, y: true, setScale: false }, points: { show: false } },
      select: { show: true },
      scales: {
        x: { time: true, auto: false, range: () => [now() - windowSeconds, now()] },
        y: {
          auto: true,
          range: (u, min, max) => [0, max > 0 ? max * 1.1 : 100],
        },
      },
      axes: [
        { stroke: "#64748b", grid: { stroke: "#eef2f7" } },
        { stroke: "#64748b", grid: { stroke: "#eef2f7" }, size: 64, values: (u, splits) => splits.map(formatMs) },
      ],
      series: [
        {},
        { label: "OK", stroke: OK_COLOR, fill: OK_COLOR, paths: () => null, points: { show: true, size: 5, width: 0, fill: OK_COLOR } },
        { label: "Error", stroke: ERROR_COLOR, fill: ERROR_COLOR, paths: () => null, points: { show: true, size: 6, width: 0, fill: ERROR_COLOR } },
      ],
      hooks: { setSelect: [(u) => showSelection(u)] },
    },
    [[], [], []],
    plotEl,
  );
  new ResizeObserver(() => {
    const width = Math.max(300, plotEl.clientWidth);
    if (width !== chart.width) chart.setSize({ width, height: 360 });
  }).observe(plotEl);

  function add(events) {
    let added = 0;
    for (const e of events) {
      const key = keyOf(e);
      if (seen.has(key)) continue;
      seen.add(key);
      dots.push(e);
      newest = Math.max(newest, e[0]);
      added += 1;
    }
    if (!added) return;
    dots.sort((a, b) => a[0] - b[0]);
    const oldest = now() - windowSeconds - 60;
    let cut = 0;
    while (cut < dots.length && (dots[cut][0] < oldest || dots.length - cut > MAX_DOTS)) cut += 1;
    for (const e of dots.splice(0, cut)) seen.delete(keyOf(e));
    root.dataset.dots = String(dots.length);
  }

  function draw() {
    if (paused) return;
    const xs = dots.map((e) => e[0]);
    const ok = dots.map((e) => (e[2] ? null : e[1]));
    const bad = dots.map((e) => (e[2] ? e[1] : null));
    chart.batch(() => {
      chart.setData([xs, ok, bad], false);
      chart.setScale("x", { min: now() - windowSeconds, max: now() });
    });
    showStats();
  }

  // New data is drawn on the next frame (at most one redraw per frame however many messages).
  let frame = null;
  function drawSoon() {
    if (frame == null) {
      frame = requestAnimationFrame(() => {
        frame = null;
        draw();
      });
    }
  }

  function showSelection(u) {
    const { left, top, width, height } = u.select;
    if (width < 3 || height < 3) return;
    // A rectangle reaching the right or top edge takes everything beyond it: the newest dots
    // sit on the right edge, and the slowest may be drawn right at the top.
    const edge = 3;
    const x0 = u.posToVal(left, "x");
    const x1 = left + width >= u.over.clientWidth - edge ? Infinity : u.posToVal(left + width, "x");
    const y1 = top <= edge ? Infinity : u.posToVal(top, "y");
    const y0 = u.posToVal(top + height, "y");
    const inside = dots.filter((e) => e[0] >= x0 && e[0] <= x1 && e[1] >= y0 && e[1] <= y1);
    inside.sort((a, b) => b[1] - a[1]);
    renderSelection(inside, x0, Math.min(x1, now()), y0, Math.min(y1, u.scales.y.max));
  }

  function renderSelection(inside, x0, x1, y0, y1) {
    if (!selection) return;
    selection.hidden = false;
    selection.querySelector("[data-live-selection-summary]").textContent =
      `${inside.length} transaction${inside.length === 1 ? "" : "s"} between ${formatTime(x0).slice(11)} and ` +
      `${formatTime(x1).slice(11)}, ${formatMs(Math.max(0, y0))} – ${formatMs(y1)}` +
      (inside.length > SELECTION_ROWS ? ` (slowest ${SELECTION_ROWS} shown)` : "");
    const body = selection.querySelector("tbody");
    body.replaceChildren();
    for (const e of inside.slice(0, SELECTION_ROWS)) {
      const row = el("tr", { "data-error": e[2] ? "1" : "0" });
      row.append(
        el("td", { class: "num" }, new Date(e[0] * 1000).toISOString().slice(11, 23)),
        el("td", { class: "name" }, e[3]),
        el("td", { class: "num" }, formatMs(e[1])),
        el("td", { class: "num" }, e[5] == null ? "–" : String(e[5])),
        el("td", {}, e[2] ? "error" : ""),
      );
      const traceCell = el("td");
      if (e[4] && /^[0-9a-f]{32}$/.test(e[4])) {
        traceCell.append(el("a", { href: d.traceUrl.replace("00000000000000000000000000000000", e[4]) }, "trace →"));
      } else {
        traceCell.textContent = "–";
      }
      row.append(traceCell);
      body.append(row);
    }
  }

  // Last 60 s from the two newest minute rows: the current minute's part plus the matching
  // share of the previous one. Transactions in flight by Little's law: L = throughput × time.
  function showStats() {
    const t = now();
    const current = Math.floor(t / 60) * 60;
    const cur = minutes.get(current);
    const prev = minutes.get(current - 60);
    const share = 1 - (t - current) / 60;
    const parts = [
      [cur, 1],
      [prev, share],
    ].filter(([p]) => p && p.count);
    const count = parts.reduce((acc, [p, w]) => acc + p.count * w, 0);
    const time = parts.reduce((acc, [p, w]) => acc + p.avg_ms * p.count * w, 0);
    const avg = count ? time / count : null;
    const p95Source = cur && cur.count && (t - current >= 30 || !prev || !prev.count) ? cur : prev;
    stat("rpm").textContent = count ? formatRate(count) + " rpm" : "0 rpm";
    stat("avg").textContent = formatMs(avg);
    stat("p95").textContent = formatMs(p95Source && p95Source.count ? p95Source.p95_ms : null);
    stat("inflight").textContent = avg == null ? "0" : (count / 60 * (avg / 1000)).toFixed(2);
    const recent = dropped.filter(([at]) => at > t - 60).reduce((acc, [, n]) => acc + n, 0);
    dropped = dropped.filter(([at]) => at > t - 60);
    droppedEl.textContent = recent ? `${formatRate(recent)} sampled transactions not drawn in the last minute (rate limit)` : "";
  }

  function takePoints(points) {
    for (const p of points || []) {
      const old = minutes.get(p.t);
      if (!old || (p.count || 0) >= (old.count || 0)) minutes.set(p.t, p);
    }
    for (const key of minutes.keys()) if (key < now() - 600) minutes.delete(key);
  }

  async function fillGap() {
    // What happened while we were not connected (or before the page loaded).
    const from = Math.floor(Math.max(now() - windowSeconds, newest - 5));
    try {
      const [events, series] = await Promise.all([
        fetch(`${d.api}events?from=${from}&limit=5000`, { credentials: "same-origin" }),
        fetch(`${d.api}timeseries?from=${Math.floor(now()) - 600}&type=web`, { credentials: "same-origin" }),
      ]);
      if (events.ok) {
        const body = await events.json();
        const rows = (body.events || []).map(fromApi);
        if (paused) held.push(...rows);
        else add(rows);
      }
      if (series.ok) takePoints((await series.json()).points);
      root.dataset.gapFills = String(Number(root.dataset.gapFills || 0) + 1);
      draw();
    } catch (err) {
      // Reconnection will try again.
    }
  }

  pauseBtn.addEventListener("click", () => {
    paused = !paused;
    pauseBtn.textContent = paused ? "Resume" : "Pause";
    pauseBtn.setAttribute("aria-pressed", paused ? "true" : "false");
    root.dataset.paused = paused ? "1" : "0";
    if (!paused) {
      add(held.splice(0));
      draw();
    }
  });

  const live = connectLive(d.socket, {
    indicator,
    onOpen: fillGap,
    onMessage(msg) {
      if (msg.type === "hello") {
        offset = msg.server_time - Date.now() / 1000;
        return;
      }
      if (msg.type === "lag") {
        // Updates skipped because this connection was too slow: fetch what they held.
        fillGap();
        return;
      }
      if (msg.type !== "update") return;
      takePoints((msg.points || {}).web);
      if (msg.dropped) dropped.push([now(), msg.dropped]);
      if (paused) {
        held.push(...(msg.events || []));
        if (held.length > MAX_DOTS) held.splice(0, held.length - MAX_DOTS);
      } else {
        add(msg.events || []);
        drawSoon();
      }
      root.dataset.messages = String(Number(root.dataset.messages || 0) + 1);
    },
  });
  // Handles for tests (drop the connection, read the plot's scales).
  root.pulseLive = live;
  indicator.pulseLive = live;
  plotEl.pulseScatter = chart;

  // Slide the window once a second; redraws are cheap at these sizes.
  setInterval(draw, 1000);
  draw();
  return live;
}
