"""Capacity planning: peak throughput, concurrency by Little's law, weekly pattern, what-if."""

from datetime import UTC, datetime

from django.shortcuts import render

from apm import queries
from frontend.capacity import CPU_TARGET_DEFAULT, what_if
from frontend.forms import WhatIfForm
from frontend.views.common import app_page, app_page_context, time_range_or_error, txn_type, type_links
from tenants.access import org_view

HEATMAP_WEEKS = 4
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
SHADES = 10


def heatmap_rows(heatmap):
    """Table rows of (day, [cells]) with a shade class per cell, scaled to the busiest cell."""
    if heatmap is None:
        return None, None
    peak = max((v for row in heatmap["grid"] for v in row if v is not None), default=0)
    rows = []
    for day, values in zip(DAYS, heatmap["grid"]):
        cells = []
        for hour, value in enumerate(values):
            if value is None:
                shade = "heat-none"
            else:
                shade = f"heat-{min(SHADES - 1, int(value / peak * SHADES)) if peak else 0}"
            cells.append({"hour": hour, "rpm": value, "shade": shade})
        rows.append({"day": day, "cells": cells})
    return rows, peak


@org_view()
@app_page
def capacity(request, app):
    org = request.org
    time_range, error = time_range_or_error(request, default="7d")
    if error:
        return error
    kind = txn_type(request)
    load = queries.peak_and_concurrency(org, app, time_range.start, time_range.end, txn_type=kind)
    efficiency = queries.cpu_per_tps(org, app, time_range.start, time_range.end)
    heat_rows, heat_peak = heatmap_rows(queries.throughput_heatmap(org, app, HEATMAP_WEEKS, kind))

    data = None
    if "target_tps" in request.GET:
        data = request.GET.copy()
        if not data.get("cpu_target"):
            data["cpu_target"] = str(CPU_TARGET_DEFAULT)
    form = WhatIfForm(data)
    if not form.is_bound and load["peak_tps"]:
        form = WhatIfForm(initial={"target_tps": round(load["peak_tps"] * 2, 2), "cpu_target": CPU_TARGET_DEFAULT})
    result = None
    if form.is_bound and form.is_valid():
        result = what_if(
            form.cleaned_data["target_tps"],
            load["avg_response_s"],
            efficiency["cpu_per_tps"],
            efficiency["peak_tps_per_instance"],
            form.cleaned_data["cpu_target"],
        )
    context = app_page_context(
        request,
        app,
        "capacity",
        time_range,
        load=load,
        efficiency=efficiency,
        heat_rows=heat_rows,
        heat_peak=heat_peak,
        hours=range(24),
        heatmap_weeks=HEATMAP_WEEKS,
        form=form,
        result=result,
        types=type_links(request, kind),
        txn_type=kind,
        now=datetime.now(UTC),
    )
    return render(request, "frontend/capacity.html", context)
