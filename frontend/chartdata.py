"""Turn query-layer results into the JSON the chart script draws.

The shape is ``{"t": [unix seconds], "series": [{"key", "label", "values"}]}``, emitted
with Django's ``json_script`` (which escapes ``<``, ``>`` and ``&``), so labels taken from
agent data (e.g. host names) cannot break out of the data block.
"""

SEGMENTS = (("python", "Python"), ("database", "Database"), ("external", "External"), ("template", "Template"))

RESPONSE = (("avg_ms", "avg", "Average"), ("p50_ms", "p50", "p50"), ("p95_ms", "p95", "p95"), ("p99_ms", "p99", "p99"))


def _round(value, digits=3):
    return None if value is None else round(value, digits)


def _percent(fraction):
    return None if fraction is None else round(fraction * 100, 4)


def stats_series(points, bands=(), markers=()):
    """Every chart of an app or transaction, from ``timeseries()['points']``; ``bands`` are
    incident periods to shade ({start, end, severity, title, url}), ``markers`` deployments
    to mark ({t, version, commit, user, description, url})."""
    t = [p["t"] for p in points]
    series = [
        {"key": key, "label": label, "values": [_round(p[field]) for p in points]} for field, key, label in RESPONSE
    ]
    for key, label in SEGMENTS:
        values = [_round((p.get("segments_ms") or {}).get(key)) for p in points]
        series.append({"key": key, "label": label, "values": values})
    series += [
        {"key": "rpm", "label": "Throughput", "values": [_round(p["rpm"], 2) for p in points]},
        {"key": "error_rate", "label": "Error rate", "values": [_percent(p["error_rate"]) for p in points]},
        {"key": "apdex", "label": "Apdex", "values": [_round(p["apdex"]) for p in points]},
    ]
    return {"t": t, "series": series, "bands": list(bands), "markers": list(markers)}


def count_series(points, key="count", label="Occurrences"):
    return {"t": [p["t"] for p in points], "series": [{"key": key, "label": label, "values": [p[key] for p in points]}]}


def spark_values(values):
    """Comma-separated numbers for a ``data-spark`` attribute (empty string for a gap)."""
    return ",".join("" if v is None else f"{v:.4g}" for v in values)
