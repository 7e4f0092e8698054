// A uPlot plugin that shows the values of every series at the cursor in a small box.
// Labels and values are set with textContent: series names can come from agents.
import { FORMATTERS, formatTime } from "./format.js";

export function tooltipPlugin({ unit, raw }) {
  let box;
  let title;
  let rows = [];
  const fmt = FORMATTERS[unit] || FORMATTERS.count;

  function init(u) {
    box = document.createElement("div");
    box.className = "chart-tooltip";
    box.hidden = true;
    title = document.createElement("div");
    title.className = "chart-tooltip-time";
    box.appendChild(title);
    rows = u.series.slice(1).map((s) => {
      const row = document.createElement("div");
      row.className = "chart-tooltip-row";
      const swatch = document.createElement("span");
      swatch.className = "chart-tooltip-swatch";
      swatch.style.background = s._color || "#888";
      const label = document.createElement("span");
      label.className = "chart-tooltip-label";
      label.textContent = s.label;
      const value = document.createElement("span");
      value.className = "chart-tooltip-value";
      row.append(swatch, label, value);
      box.appendChild(row);
      return value;
    });
    u.over.appendChild(box);
    u.over.addEventListener("mouseleave", () => {
      box.hidden = true;
    });
  }

  function setCursor(u) {
    const idx = u.cursor.idx;
    if (idx == null || u.cursor.left < 0) {
      box.hidden = true;
      return;
    }
    box.hidden = false;
    title.textContent = formatTime(u.data[0][idx]);
    rows.forEach((cell, i) => {
      // Stacked charts draw cumulative sums; the tooltip shows each series' own value.
      const values = raw ? raw[i] : u.data[i + 1];
      cell.textContent = fmt(values[idx]);
    });
    const overWidth = u.over.clientWidth;
    const left = u.cursor.left + 12;
    const boxWidth = box.offsetWidth;
    box.style.left = (left + boxWidth > overWidth ? Math.max(0, u.cursor.left - boxWidth - 12) : left) + "px";
    box.style.top = Math.max(0, (u.cursor.top || 0) - 10) + "px";
  }

  return { hooks: { init, setCursor } };
}
