"""An app's overview: summary figures and charts over the chosen time range."""

from django.conf import settings
from django.shortcuts import render

from apm import queries
from frontend.chartdata import stats_series
from frontend.views.common import (
    app_page,
    app_page_context,
    deployment_markers,
    incident_bands,
    time_range_or_error,
    txn_type,
    type_links,
)
from tenants.access import org_view

TOP_TRANSACTIONS = 5


@org_view()
@app_page
def app_overview(request, app):
    org = request.org
    time_range, error = time_range_or_error(request)
    if error:
        return error
    kind = txn_type(request)
    series = queries.timeseries(org, app, time_range.start, time_range.end, txn_type=kind)
    totals = series["totals"]
    context = app_page_context(
        request,
        app,
        "overview",
        time_range,
        totals=totals,
        resolution=series["resolution"],
        chart=stats_series(
            series["points"], incident_bands(org, app, time_range), deployment_markers(org, app, time_range)
        ),
        types=type_links(request, kind),
        txn_type=kind,
        range_query=time_range.query,
    )
    if not totals["count"]:
        context["never_reported"] = not queries.has_data(org, app)
        context["public_url"] = settings.PUBLIC_URL
        context["app_name"] = app.name
    else:
        # Ranked by time consumed, which needs no percentiles: plain sums in SQL.
        context["top"] = queries.transactions(
            org, app, time_range.start, time_range.end, txn_type=kind, limit=TOP_TRANSACTIONS, percentiles=False,
            whole_hours=True,
        )["transactions"]
    return render(request, "frontend/app_overview.html", context)
