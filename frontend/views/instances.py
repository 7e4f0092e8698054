"""Instances of an app: CPU, memory, runtime metrics, throughput and response time per process."""

import math

from django.shortcuts import render

from apm import queries
from frontend.views.common import app_page, app_page_context, deployment_markers, time_range_or_error
from tenants.access import org_view

MAX_POINTS = 360
MAX_CHART_SERIES = 10  # the busiest processes get a line; the table lists them all


def _step(time_range):
    """Seconds per chart point: whole minutes, at most MAX_POINTS points, whole hours past a day
    (so that hour rollups line up with the buckets)."""
    step = max(60, math.ceil(time_range.seconds / MAX_POINTS / 60) * 60)
    return step if step < 3600 and time_range.seconds <= 86400 * 1.05 else math.ceil(step / 3600) * 3600


def _chart(series, keys, index, step, time_range, scale=1.0, markers=()):
    """One chart's data: a line per process, on a shared time axis with gaps as null."""
    first = int(time_range.start.timestamp()) // step * step
    t = list(range(first, int(time_range.end.timestamp()), step))
    lines = []
    for n, (host, pid) in enumerate(keys):
        points = series.get((host, pid), {})
        values = [None if b not in points or points[b][index] is None else round(points[b][index] * scale, 3) for b in t]
        lines.append({"key": f"i{n}", "label": f"{host}:{pid}", "values": values})
    return {"t": t, "series": lines, "markers": list(markers)}


def _measured(series, index):
    """Whether any process sent this runtime metric (agents before them did not)."""
    return any(p[index] is not None for points in series.values() for p in points.values())


@org_view()
@app_page
def instance_list(request, app):
    org = request.org
    time_range, error = time_range_or_error(request)
    if error:
        return error
    step = _step(time_range)
    rows, series = queries.instances_overview(org, app, time_range.start, time_range.end, step)
    keys = [(r["host"], r["pid"]) for r in rows[:MAX_CHART_SERIES]]
    markers = deployment_markers(org, app, time_range)
    context = app_page_context(
        request,
        app,
        "instances",
        time_range,
        rows=rows,
        cpu_chart=_chart(series, keys, 0, step, time_range, markers=markers),
        memory_chart=_chart(series, keys, 1, step, time_range, markers=markers),
        gc_chart=_chart(series, keys, 2, step, time_range, markers=markers),
        loop_lag_chart=_chart(series, keys, 3, step, time_range, scale=1000.0, markers=markers),
        db_chart=_chart(series, keys, 4, step, time_range, markers=markers),
        has_gc=_measured(series, 2),
        has_loop_lag=_measured(series, 3),
        has_db=_measured(series, 4),
        step=step,
        charted=len(keys),
    )
    return render(request, "frontend/instances.html", context)
