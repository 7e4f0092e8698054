"""An app's deployments, newest first, each with the hour before against the hour after."""

from django.conf import settings
from django.shortcuts import render

from apm import queries
from frontend.views.common import app_page, app_page_context
from tenants.access import org_view

PER_PAGE = 20
# (stats key, label, whether a rise is worse)
COMPARED = (("avg_ms", "Response time", True), ("p95_ms", "p95", True), ("rpm", "Throughput", None),
            ("error_rate", "Error rate", True))
NOTABLE = 0.1  # a change smaller than this fraction is shown, not highlighted


def _change(before, after, rise_is_worse):
    """The relative change and how to show it: "worse", "better" or "" (small, or neutral)."""
    if before is None or after is None or not before:
        return None, ""
    change = (after - before) / before
    if rise_is_worse is None or abs(change) < NOTABLE:
        return change, ""
    return change, "worse" if (change > 0) == rise_is_worse else "better"


def _compare(deployment):
    rows = []
    for key, label, rise_is_worse in COMPARED:
        before, after = deployment["before"][key], deployment["after"][key]
        change, verdict = _change(before, after, rise_is_worse)
        rows.append({"key": key, "label": label, "before": before, "after": after, "change": change, "verdict": verdict})
    return rows


def _page_number(request):
    raw = request.GET.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < int(raw) <= 10_000 else 1


@org_view()
@app_page
def deployment_list(request, app):
    page = _page_number(request)
    result = queries.deployment_impacts(request.org, app, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    deployments = [{**d, "compared": _compare(d)} for d in result["deployments"]]
    context = app_page_context(
        request, app, "deployments", deployments=deployments, page=page, more=result["more"],
        public_url=settings.PUBLIC_URL,
    )
    return render(request, "frontend/deployments.html", context)
