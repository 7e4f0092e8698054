// Tiny trend lines for tables: no axes, no cursor, one series.
import uPlot from "uplot";
import { colorFor, fillFor } from "./palette.js";
import { lonePoints } from "./timeseries.js";

export function sparkline(el, values, { key = "rpm", width = 120, height = 28 } = {}) {
  const x = values.map((_, i) => i);
  const color = colorFor(key, 0);
  const max = Math.max(1e-9, ...values.filter((v) => v != null));
  const chart = new uPlot(
    {
      width,
      height,
      pxAlign: false,
      cursor: { show: false },
      select: { show: false },
      legend: { show: false },
      scales: { x: { time: false }, y: { range: [0, max * 1.1] } },
      axes: [{ show: false }, { show: false }],
      series: [{}, { stroke: color, fill: fillFor(color, 0.18), width: 1.25, points: { show: false, filter: lonePoints, size: 4, fill: color } }],
    },
    [x, values],
    el,
  );
  el.dataset.points = String(values.length);
  el.dataset.ready = "1";
  return chart;
}
