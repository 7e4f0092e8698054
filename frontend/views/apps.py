"""The apps page: every app of the organisation with its health now and its last hour."""

from django.conf import settings
from django.shortcuts import render
from django.views.decorators.http import require_GET

from alerts.status import open_incident_severity_by_app, with_incident
from apm import queries
from apm.queries.health import RANK as HEALTH_RANK
from frontend.chartdata import spark_values
from frontend.status import status_dot
from frontend.views.common import with_params
from tenants.access import org_view

SUMMARY_MINUTES = 5  # "now": the window of the figures and of the status dot

# sort key -> (value of a row, descending?)
SORTS = {
    "name": (lambda r: r["name"].lower(), False),
    "status": (lambda r: r["status_rank"], True),
    "rpm": (lambda r: r["summary"]["rpm"] or 0, True),
    "avg": (lambda r: r["summary"]["avg_ms"] or 0, True),
    "p95": (lambda r: r["summary"]["p95_ms"] or 0, True),
    "errors": (lambda r: r["summary"]["error_rate"] or 0, True),
    "apdex": (lambda r: r["summary"]["apdex"] if r["summary"]["apdex"] is not None else 2, False),
}


@org_view()
@require_GET
def app_list(request):
    org = request.org
    summaries = queries.app_summaries(org, minutes=SUMMARY_MINUTES)
    incidents = {str(k): v for k, v in open_incident_severity_by_app(org).items()}
    query = request.GET.get("q", "").strip()
    sort = request.GET.get("sort", "name")
    if sort not in SORTS:
        sort = "name"
    rows = []
    for item in summaries:
        if query and query.lower() not in item["name"].lower():
            continue
        incident = incidents.get(item["id"])
        status = with_incident(item["status"], incident)
        dot, label = status_dot(status, incident)
        rows.append(
            {
                **item,
                "health": dot,
                "health_label": label,
                "status_rank": HEALTH_RANK[status],
                # The current minute is still filling up: leave it out rather than draw a dip.
                "spark": spark_values(item["sparkline"]["rpm"][:-1]),
            }
        )
    key, descending = SORTS[sort]
    rows.sort(key=lambda r: r["name"].lower())
    rows.sort(key=key, reverse=descending)
    columns = [
        ("status", ""),
        ("name", "App"),
        ("rpm", "Throughput"),
        ("avg", "Avg"),
        ("p95", "p95"),
        ("errors", "Error rate"),
        ("apdex", "Apdex"),
    ]
    return render(
        request,
        "frontend/app_list.html",
        {
            "org": org,
            "rows": rows,
            "total": len(summaries),
            "query": query,
            "sort": sort,
            "columns": [{"key": k, "label": label, "href": with_params(request, sort=k)} for k, label in columns],
            "summary_minutes": SUMMARY_MINUTES,
            "public_url": settings.PUBLIC_URL,
            "app_name": "My App",
        },
    )
