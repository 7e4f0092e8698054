// Series colours: fixed per meaning so the same metric looks the same on every page.
export const COLORS = {
  avg: "#2563eb",
  p50: "#0d9488",
  p95: "#d97706",
  p99: "#dc2626",
  rpm: "#2563eb",
  error_rate: "#dc2626",
  apdex: "#059669",
  python: "#3b82f6",
  database: "#f59e0b",
  external: "#8b5cf6",
  template: "#10b981",
  other: "#94a3b8",
  cpu: "#2563eb",
  memory: "#7c3aed",
};

const CYCLE = ["#2563eb", "#d97706", "#059669", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#ea580c", "#475569"];

export function colorFor(key, index) {
  return COLORS[key] || CYCLE[index % CYCLE.length];
}

// Translucent fill from a #rrggbb colour.
export function fillFor(color, alpha = 0.15) {
  const n = parseInt(color.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}
