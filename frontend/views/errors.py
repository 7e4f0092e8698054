"""Errors of an app: groups by fingerprint, and one group's samples with stack traces."""

import math
import uuid

from django.http import Http404
from django.shortcuts import render

from apm import queries
from frontend.chartdata import count_series, spark_values
from frontend.views.common import app_page, app_page_context, deployment_markers, time_range_or_error
from tenants.access import org_view

LIMIT = 100
SPARK_POINTS = 30


def _spark_buckets(time_range):
    """A step (a whole number of minutes) that gives about SPARK_POINTS buckets over the range."""
    step = max(60, math.ceil(time_range.seconds / SPARK_POINTS / 60) * 60)
    first = int(time_range.start.timestamp()) // step * step
    last = int(time_range.end.timestamp())
    return step, list(range(first, last, step))


@org_view()
@app_page
def error_list(request, app):
    org = request.org
    time_range, error = time_range_or_error(request)
    if error:
        return error
    groups = queries.error_groups(org, app, time_range.start, time_range.end, limit=LIMIT)["groups"]
    ids = [uuid.UUID(str(g["id"])) for g in groups]
    step, buckets = _spark_buckets(time_range)
    counts = queries.error_counts(org, app, ids, time_range.start, time_range.end, step)
    affected = queries.affected_transactions(org, ids)
    for group, gid in zip(groups, ids):
        per_bucket = counts.get(gid, {})
        group["spark"] = spark_values([per_bucket.get(b, 0) for b in buckets])
        names = set(affected.get(gid, []))
        if group.get("transaction"):
            names.add(group["transaction"])
        group["transactions"] = sorted(names)
    context = app_page_context(
        request, app, "errors", time_range, groups=groups, range_query=time_range.query, limit=LIMIT
    )
    return render(request, "frontend/errors.html", context)


@org_view()
@app_page
def error_detail(request, app, group_id):
    org = request.org
    time_range, error = time_range_or_error(request)
    if error:
        return error
    result = queries.error_group(org, app, group_id, time_range.start, time_range.end)
    if result is None:
        raise Http404("No such error group")
    context = app_page_context(
        request,
        app,
        "errors",
        time_range,
        group=result["group"],
        samples=result["samples"],
        chart={**count_series(result["series"]), "markers": deployment_markers(request.org, app, time_range)},
        resolution=result["resolution"],
        range_query=time_range.query,
    )
    return render(request, "frontend/error_detail.html", context)
