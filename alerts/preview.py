"""A condition replayed over past data: the series, its thresholds, and when it would have fired.

Used by the condition form's preview (the last day) and the incident page (around the
incident). Replays ``evaluation.judge`` minute by minute, so the preview fires exactly
when the evaluator would have.
"""

from datetime import datetime, timedelta, timezone as dt_timezone

from apm import queries

from alerts import metrics
from alerts.evaluation import judge
from alerts.models import INSTANCE_METRICS, SEVERITY_RANK, Metric

CHART_UNITS = {
    Metric.APDEX: "apdex",
    Metric.AVG: "ms",
    Metric.P50: "ms",
    Metric.P95: "ms",
    Metric.P99: "ms",
    Metric.THROUGHPUT: "rpm",
    Metric.ERROR_RATE: "percent",
    Metric.ERROR_COUNT: "count",
    Metric.CPU: "percent",
    Metric.MEMORY: "count",
    Metric.NO_DATA: "rpm",
}


def _values(org, condition, start, end):
    minute_list = metrics.minutes(end, int((end - start).total_seconds() // 60))
    if condition.metric in INSTANCE_METRICS:
        hosts = queries.instance_minutes(org, [condition.app_id], start, end).get(condition.app_id, {})
        index = 0 if condition.metric == Metric.CPU else 1
        # The busiest host per minute: what an incident on any host would show.
        values = []
        for m in minute_list:
            here = [per_minute[m][index] for per_minute in hosts.values() if m in per_minute]
            values.append(max(here) if here else None)
        return minute_list, values
    if condition.transaction:
        buckets = queries.transaction_buckets(org, {(condition.app_id, condition.transaction)}, start, end)
        buckets = buckets.get((condition.app_id, condition.transaction), {})
    else:
        txn_type = None if condition.metric == Metric.NO_DATA else "web"
        buckets = queries.app_buckets(org, [condition.app_id], start, end, txn_type).get(condition.app_id, {})
    if condition.metric == Metric.NO_DATA:
        return minute_list, [float(buckets[m].count) if m in buckets else 0.0 for m in minute_list]
    return minute_list, metrics.series(buckets, condition.metric, minute_list)


def _label(epoch):
    return datetime.fromtimestamp(epoch, tz=dt_timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def replay(org, condition, start, end):
    """{t, series, unit, fired}: the chart data and the periods an incident would have been open."""
    start = start.replace(second=0, microsecond=0)
    end = end.replace(second=0, microsecond=0)
    window = condition.window_minutes
    lead = timedelta(minutes=window)
    minute_list, values = _values(org, condition, start - lead, end)
    fired = []
    current = None
    for i in range(window, len(minute_list) + 1):
        evaluated_at = minute_list[i - 1] + timedelta(minutes=1)
        j = judge(condition, values[i - window : i])
        if current is None and j.severity:
            current = {"start": (evaluated_at - lead).timestamp(), "opened": evaluated_at.timestamp(), "end": None, "severity": j.severity}
        elif current is not None:
            if j.severity and SEVERITY_RANK[j.severity] > SEVERITY_RANK[current["severity"]]:
                current["severity"] = j.severity
            elif j.recovered:
                current["end"] = evaluated_at.timestamp()
                fired.append(current)
                current = None
    if current is not None:
        fired.append(current)
    for f in fired:
        f["opened_label"] = _label(f["opened"])
        f["end_label"] = _label(f["end"]) if f["end"] else ""
    shown = [(m, v) for m, v in zip(minute_list, values) if m >= start]
    t = [m.timestamp() for m, _ in shown]
    label = condition.get_metric_display() if condition.metric != Metric.NO_DATA else "Throughput (rpm)"
    # Series keys pick the shared palette's colours (frontend charts/palette.js):
    # blue for the metric, amber for warning, red for critical.
    series = [{"key": "avg", "label": label, "values": [v for _, v in shown]}]
    if condition.warning_threshold is not None:
        series.append({"key": "p95", "label": "Warning threshold", "values": [condition.warning_threshold] * len(t)})
    if condition.critical_threshold is not None:
        series.append({"key": "p99", "label": "Critical threshold", "values": [condition.critical_threshold] * len(t)})
    # ``bands`` is drawn by the shared chart code (frontend charts/bands.js) behind the lines.
    bands = [{"start": f["start"], "end": f["end"], "severity": f["severity"]} for f in fired]
    return {"t": t, "series": series, "bands": bands, "unit": CHART_UNITS.get(condition.metric, "count"), "fired": fired}
