"""Transactions of an app: the ranked table, and one transaction's detail."""

from django.http import Http404
from django.shortcuts import render

from apm import queries
from frontend.chartdata import SEGMENTS, stats_series
from frontend.views.common import (
    app_page,
    app_page_context,
    deployment_markers,
    incident_bands,
    time_range_or_error,
    txn_type,
    type_links,
    with_params,
)
from tenants.access import org_view

SORTS = (
    ("time", "Time consumed"),
    ("avg", "Average"),
    ("p95", "p95"),
    ("rpm", "Throughput"),
    ("errors", "Error rate"),
)
LIMIT = 100
SLOW_TRACES = 20


@org_view()
@app_page
def transaction_list(request, app):
    org = request.org
    time_range, error = time_range_or_error(request)
    if error:
        return error
    sort = request.GET.get("sort", "time")
    if sort not in dict(SORTS):
        sort = "time"
    kind = txn_type(request)
    query = request.GET.get("q", "").strip()[:255]
    result = queries.transactions(
        org, app, time_range.start, time_range.end, txn_type=kind, limit=LIMIT, q=query or None, whole_hours=True,
        sort="error_rate" if sort == "errors" else sort,  # the page's "errors" column is the rate
    )
    context = app_page_context(
        request,
        app,
        "transactions",
        time_range,
        rows=result["transactions"],
        sort="errors" if result["sort"] == "error_rate" else result["sort"],  # "time" when p95 was refused
        notice=result["notice"],
        sorts=[{"key": k, "label": label, "href": with_params(request, sort=k)} for k, label in SORTS],
        query=query,
        types=type_links(request, kind),
        txn_type=kind,
        range_query=time_range.query,
        limit=LIMIT,
        # Long ranges are read from whole hours: say where the figures really start.
        aligned_from=result["from"] if result["from"] < time_range.start.timestamp() - 59 else None,
    )
    return render(request, "frontend/transactions.html", context)


def segment_breakdown(totals):
    """[(key, label, avg ms, share 0–100)] of the average transaction, for the bar and legend."""
    segments = totals.get("segments_ms") or {}
    avg = totals.get("avg_ms") or 0
    out = []
    accounted = 0.0
    for key, label in SEGMENTS:
        value = segments.get(key) or 0.0
        accounted += value
        out.append({"key": key, "label": label, "ms": value, "share": 100 * value / avg if avg else 0})
    # Time not attributed to any segment (the agent's own overhead, unclassified code).
    rest = max(0.0, avg - accounted)
    if avg and rest / avg > 0.005:
        out.append({"key": "other", "label": "Other", "ms": rest, "share": 100 * rest / avg})
    offset = 0.0
    for item in out:
        item["offset"] = offset
        offset += item["share"]
    return out


@org_view()
@app_page
def transaction_detail(request, app, txn_id):
    org = request.org
    time_range, error = time_range_or_error(request)
    if error:
        return error
    txn = queries.transaction_info(org, app, txn_id)
    if txn is None:
        raise Http404("No such transaction")
    series = queries.timeseries(org, app, time_range.start, time_range.end, transaction=txn["id"], txn_type=txn["type"])
    traces = queries.traces(org, app, time_range.start, time_range.end, transaction=txn["id"], limit=SLOW_TRACES)
    context = app_page_context(
        request,
        app,
        "transactions",
        time_range,
        txn=txn,
        totals=series["totals"],
        resolution=series["resolution"],
        chart=stats_series(
            series["points"],
            incident_bands(org, app, time_range, transaction=txn["name"]),
            deployment_markers(org, app, time_range),
        ),
        segments=segment_breakdown(series["totals"]),
        traces=traces["traces"],
        alert_transaction=txn["name"],
        range_query=time_range.query,
    )
    return render(request, "frontend/transaction_detail.html", context)
