// Page glue for the monitoring UI. Server-rendered pages mark where charts go:
//   <div data-chart data-source="ID" data-keys="avg,p95" data-unit="ms" [data-stacked] [data-fill]>
// where ID names a <script type="application/json"> block (Django's json_script, escaped)
// holding {t: [...], series: [{key, label, values}], bands?, markers?}; and sparklines as
//   <span data-spark="1,2,3" data-spark-key="rpm">.
import { timeChart } from "./charts/timeseries.js";
import { sparkline } from "./charts/sparkline.js";
import "./live/index.js"; // live charts and the Live page (runs after the charts are drawn)

const sources = new Map();

function readSource(id) {
  if (!sources.has(id)) {
    const node = document.getElementById(id);
    sources.set(id, node ? JSON.parse(node.textContent) : null);
  }
  return sources.get(id);
}

function pick(data, keys) {
  if (!keys || keys === "*") return data.series;
  const wanted = keys.split(",");
  return wanted.map((k) => data.series.find((s) => s.key === k)).filter(Boolean);
}

function drawCharts() {
  for (const el of document.querySelectorAll("[data-chart]")) {
    const data = readSource(el.dataset.source);
    if (!data) continue;
    const series = pick(data, el.dataset.keys);
    if (!series.length || !data.t.length) {
      el.classList.add("chart-empty");
      el.dataset.points = "0";
      continue;
    }
    timeChart(el, { t: data.t, series }, {
      unit: el.dataset.unit,
      stacked: "stacked" in el.dataset,
      fill: "fill" in el.dataset,
      yMax: el.dataset.ymax ? Number(el.dataset.ymax) : null,
      height: el.dataset.height ? Number(el.dataset.height) : undefined,
      zoom: el.dataset.zoom !== "off",
      bands: data.bands,
      markers: data.markers,
    });
  }
}

function drawSparklines() {
  for (const el of document.querySelectorAll("[data-spark]")) {
    const values = el.dataset.spark.split(",").map((v) => (v === "" ? null : Number(v)));
    if (!values.length) continue;
    sparkline(el, values, { key: el.dataset.sparkKey || "rpm" });
  }
}

function start() {
  drawCharts();
  drawSparklines();
  document.documentElement.dataset.chartsReady = "1";
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
