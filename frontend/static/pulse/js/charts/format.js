// Value formatting shared by axes and tooltips. Inputs are numbers or null (no data).

export function formatMs(v) {
  if (v == null || Number.isNaN(v)) return "–";
  if (v === 0) return "0";
  if (v >= 10000) return (v / 1000).toFixed(1) + " s";
  if (v >= 1000) return (v / 1000).toFixed(2) + " s";
  if (v >= 100) return v.toFixed(0) + " ms";
  if (v >= 10) return (Number.isInteger(v) ? String(v) : v.toFixed(1)) + " ms";
  return v.toFixed(2) + " ms";
}

export function formatRate(v) {
  if (v == null || Number.isNaN(v)) return "–";
  if (Number.isInteger(v) && v < 1e3) return String(v);
  if (v >= 1e6) return (v / 1e6).toFixed(1) + "M";
  if (v >= 1e4) return (v / 1e3).toFixed(0) + "k";
  if (v >= 1e3) return (v / 1e3).toFixed(1) + "k";
  if (v >= 10) return v.toFixed(0);
  return v.toFixed(1);
}

export function formatPercent(v) {
  if (v == null || Number.isNaN(v)) return "–";
  if (v === 0) return "0%";
  if (v < 0.1) return v.toFixed(2) + "%";
  return v.toFixed(1) + "%";
}

export function formatApdex(v) {
  if (v == null || Number.isNaN(v)) return "–";
  return v.toFixed(2);
}

export function formatBytes(v) {
  if (v == null || Number.isNaN(v)) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return (i === 0 ? v.toFixed(0) : v.toFixed(1)) + " " + units[i];
}

export const FORMATTERS = {
  ms: formatMs,
  rpm: (v) => (v == null ? "–" : formatRate(v) + " rpm"),
  percent: formatPercent,
  apdex: formatApdex,
  bytes: formatBytes,
  count: formatRate,
};

// Axis ticks are shorter than tooltip values.
export const AXIS_FORMATTERS = {
  ms: formatMs,
  rpm: formatRate,
  percent: formatPercent,
  apdex: formatApdex,
  bytes: formatBytes,
  count: formatRate,
};

const pad = (n) => String(n).padStart(2, "0");

// Times are shown in UTC everywhere in Pulse, like the server-rendered tables.
export function formatTime(epochSeconds) {
  const d = new Date(epochSeconds * 1000);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())} UTC`;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

// Time axis labels in UTC, 24-hour: "14:30", with the date under the first tick of each day;
// ticks a day or more apart show only the date.
export function timeTicks(u, splits, axisIdx, space, incr) {
  let previousDay = null;
  return splits.map((ts) => {
    const d = new Date(ts * 1000);
    const day = `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}`;
    if (incr >= 86400) return day;
    const label = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
    const first = day !== previousDay;
    previousDay = day;
    return first ? `${label}\n${day}` : label;
  });
}
