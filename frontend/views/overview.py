"""An app's overview: summary figures and charts over the chosen time range."""

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.shortcuts import render

from apm import queries, ui_queries
from frontend.chartdata import stats_series
from frontend.status import LABELS, health
from frontend.views.common import app_page, app_page_context, time_range_or_error, txn_type, type_links
from tenants.access import org_view

NOW_WINDOW = timedelta(minutes=5)
TOP_TRANSACTIONS = 5


def current_health(org, app):
    """The app's status dot: Apdex and error rate of its web transactions over the last minutes."""
    now = datetime.now(UTC)
    stats = queries.window_stats(org, app, now - NOW_WINDOW, now)
    if not stats["count"]:
        return "none"
    return health(stats["apdex"], stats["error_rate"])


@org_view()
@app_page
def app_overview(request, app):
    org = request.org
    time_range, error = time_range_or_error(request)
    if error:
        return error
    kind = txn_type(request)
    series = ui_queries.series(org, app, time_range.start, time_range.end, txn_type=kind)
    totals = series["totals"]
    state = current_health(org, app)
    context = app_page_context(
        request,
        app,
        "overview",
        time_range,
        health=state,
        health_label=LABELS[state],
        totals=totals,
        resolution=series["resolution"],
        chart=stats_series(series["points"]),
        types=type_links(request, kind),
        txn_type=kind,
        range_query=time_range.query,
    )
    if not totals["count"]:
        context["never_reported"] = not ui_queries.has_data(org, app)
        context["public_url"] = settings.PUBLIC_URL
        context["app_name"] = app.name
    else:
        # Ranked by time consumed, which needs no percentiles: plain sums in SQL.
        context["top"] = ui_queries.transaction_table(
            org, app, time_range.start, time_range.end, txn_type=kind, limit=TOP_TRANSACTIONS, percentiles=False
        )["transactions"]
    return render(request, "frontend/app_overview.html", context)
