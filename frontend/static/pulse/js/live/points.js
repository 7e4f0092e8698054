// Minute points (the query layer's ``stats`` objects, docs/query-api.md) merged into chart
// data {t: [...], series: [{key, values}]} in the shape frontend/chartdata.py renders.

const SEGMENTS = ["python", "database", "external", "template"];

// The value a series key takes from one stats point (mirrors frontend/chartdata.py).
export function valueFor(key, p) {
  switch (key) {
    case "avg":
    case "p50":
    case "p95":
    case "p99":
      return p[key + "_ms"];
    case "rpm":
      return p.rpm;
    case "error_rate":
      return p.error_rate == null ? null : p.error_rate * 100;
    case "apdex":
      return p.apdex;
    default:
      if (SEGMENTS.includes(key)) return p.segments_ms ? p.segments_ms[key] : null;
      return null;
  }
}

function emptyPoint(t) {
  return { t, count: 0, rpm: 0 };
}

/**
 * A chart data set that live points can update. ``counts`` remembers each minute's
 * transaction count: rows only grow within a minute, so a point with fewer transactions
 * than the one shown is an older message overtaken on the way and is ignored.
 */
export class LiveSeries {
  constructor(data, step = 60) {
    this.t = data.t.slice();
    this.series = data.series.map((s) => ({ key: s.key, label: s.label, values: s.values.slice() }));
    this.counts = this.t.map(() => null);
    this.step = step;
    this.span = this.t.length > 1 ? this.t[this.t.length - 1] - this.t[0] : null;
  }

  lastTime() {
    return this.t.length ? this.t[this.t.length - 1] : null;
  }

  // Returns true when something changed.
  merge(points) {
    let changed = false;
    for (const p of points) {
      if (p == null || typeof p.t !== "number") continue;
      let i = this.t.indexOf(p.t);
      if (i === -1) {
        const last = this.lastTime();
        if (last != null && p.t < last) continue; // older than what we show: not ours to insert
        // Empty minutes between the last point and this one are real zeros, like the query layer's.
        for (let t = last == null ? p.t : last + this.step; t < p.t; t += this.step) this.append(emptyPoint(t));
        this.append(p);
        changed = true;
        continue;
      }
      if (this.counts[i] != null && (p.count || 0) < this.counts[i]) continue;
      this.set(i, p);
      changed = true;
    }
    if (changed) this.trim();
    return changed;
  }

  append(p) {
    this.t.push(p.t);
    this.counts.push(null);
    for (const s of this.series) s.values.push(null);
    this.set(this.t.length - 1, p);
  }

  set(i, p) {
    this.counts[i] = p.count || 0;
    for (const s of this.series) s.values[i] = valueFor(s.key, p);
  }

  // A sliding range ("last hour") keeps its width as minutes are added.
  trim() {
    if (this.span == null) return;
    const oldest = this.lastTime() - this.span;
    let drop = 0;
    while (drop < this.t.length && this.t[drop] < oldest) drop += 1;
    if (!drop) return;
    this.t.splice(0, drop);
    this.counts.splice(0, drop);
    for (const s of this.series) s.values.splice(0, drop);
  }

  pick(keys) {
    if (!keys || keys === "*") return this.series.map((s) => s.values);
    return keys
      .split(",")
      .map((k) => this.series.find((s) => s.key === k))
      .filter(Boolean)
      .map((s) => s.values);
  }
}
