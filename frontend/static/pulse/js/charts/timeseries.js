// Time-series charts on uPlot: shared crosshair across the page (cursor sync), a tooltip,
// click-drag zoom into the URL, stacked areas for the segment breakdown.
import uPlot from "uplot";
import { bandsPlugin } from "./bands.js";
import { AXIS_FORMATTERS, timeTicks } from "./format.js";
import { markersPlugin } from "./markers.js";
import { colorFor, fillFor } from "./palette.js";
import { tooltipPlugin } from "./tooltip.js";
import { zoomPlugin } from "./zoom.js";

export const SYNC_KEY = "pulse-range";

const utc = (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC");

// A value with no neighbour draws no line: mark it with a dot instead, so an app's first
// minute (or a lone minute between gaps) shows on the chart.
export function lonePoints(u, seriesIdx) {
  const values = u.data[seriesIdx];
  const lone = [];
  for (let i = 0; i < values.length; i++) {
    if (values[i] == null) continue;
    if (values[i - 1] == null && values[i + 1] == null) lone.push(i);
  }
  return lone.length ? lone : null;
}

// Cumulative sums so each series is drawn on top of the previous ones.
function stack(values) {
  const out = [];
  let acc = null;
  for (const series of values) {
    const next = series.map((v, i) => {
      const below = acc ? acc[i] : null;
      if (v == null) return below; // a gap stays a gap; a missing segment adds nothing
      return (below || 0) + v;
    });
    out.push(next);
    acc = next;
  }
  return out;
}

/**
 * Draw a chart into `el`.
 * data: {t: [epoch seconds], series: [{key, label, values}]}
 * opts: {unit, stacked, fill, yMax, height, zoom, sync, bands: [{start, end, severity}],
 *        markers: [{t, version, commit, user, description, url}]}
 */
export function timeChart(el, data, opts = {}) {
  const unit = opts.unit || "count";
  const height = opts.height || 200;
  const raw = data.series.map((s) => s.values);
  const drawn = opts.stacked ? stack(raw) : raw;

  const series = [{}];
  data.series.forEach((s, i) => {
    const color = colorFor(s.key, i);
    const spec = {
      label: s.label,
      stroke: color,
      width: opts.stacked ? 1 : 1.5,
      spanGaps: false,
      points: { show: false, filter: lonePoints, size: 6, fill: color },
      _color: color,
    };
    if (opts.stacked || opts.fill) spec.fill = fillFor(color, opts.stacked ? 0.55 : 0.12);
    series.push(spec);
  });

  // Stacked areas fill only the band between a series and the one below it.
  const bands = [];
  if (opts.stacked) {
    for (let i = data.series.length; i > 1; i--) bands.push({ series: [i, i - 1] });
  }

  const axisFmt = AXIS_FORMATTERS[unit] || AXIS_FORMATTERS.count;
  const yRange = (u, min, max) => {
    const top = opts.yMax != null ? opts.yMax : max > 0 ? max * 1.1 : 1;
    return [0, top];
  };

  const plugins = [tooltipPlugin({ unit, raw: opts.stacked ? raw : null })];
  if (opts.zoom !== false) plugins.push(zoomPlugin());
  if (opts.bands && opts.bands.length) plugins.push(bandsPlugin(opts.bands));
  if (opts.markers && opts.markers.length) plugins.push(markersPlugin(opts.markers));

  const options = {
    width: Math.max(200, el.clientWidth),
    height,
    tzDate: utc,
    legend: { show: true, live: false },
    cursor: {
      sync: opts.sync === false ? undefined : { key: SYNC_KEY, setSeries: false },
      drag: { x: true, y: false, setScale: false },
      points: { size: 6 },
    },
    select: { show: true },
    scales: { x: { time: true }, y: { range: yRange } },
    axes: [
      { stroke: "#64748b", grid: { stroke: "#eef2f7" }, ticks: { stroke: "#e2e8f0" }, values: timeTicks, size: 44 },
      {
        stroke: "#64748b",
        grid: { stroke: "#eef2f7" },
        ticks: { show: false },
        size: 72,
        values: (u, splits) => splits.map(axisFmt),
      },
    ],
    series,
    bands,
    plugins,
  };

  const chart = new uPlot(options, [data.t, ...drawn], el);
  // Live updates (pulse/js/live/charts.js): new values for the same series; ``raw`` is
  // refilled in place so the stacked tooltip shows the new values too.
  chart.pulseSetData = (t, values) => {
    raw.splice(0, raw.length, ...values);
    chart.setData([t, ...(opts.stacked ? stack(values) : values)]);
    el.dataset.points = String(t.length);
  };
  el.pulseChart = chart;
  const observer = new ResizeObserver(() => {
    const width = Math.max(200, el.clientWidth);
    if (width !== chart.width) chart.setSize({ width, height });
  });
  observer.observe(el);
  el.dataset.points = String(data.t.length);
  el.dataset.ready = "1";
  return chart;
}
