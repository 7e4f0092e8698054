"""One trace: its span waterfall, and the same trace seen by other services of the organisation."""

import re

from django.http import Http404
from django.shortcuts import render

from apm import queries
from frontend.views.common import app_page, app_page_context
from tenants.access import org_view

TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
MAX_DEPTH_CLASS = 6  # indentation classes span-depth-1..6 in apm.css


def waterfall(spans, total_ms):
    """Rows for the waterfall: spans in start order with depth and bar geometry (0–100)."""
    by_id = {s["id"]: s for s in spans}
    depth_cache = {}

    def depth(span, guard=0):
        if span["id"] in depth_cache:
            return depth_cache[span["id"]]
        parent = by_id.get(span.get("parent"))
        # A malformed tree (a cycle, or a parent chain longer than the span list) stops here.
        d = 0 if parent is None or guard > len(spans) else depth(parent, guard + 1) + 1
        depth_cache[span["id"]] = d
        return d

    total = total_ms or max((s["offset_ms"] + s["duration_ms"] for s in spans), default=0) or 1
    rows = []
    for span in spans:
        d = depth(span)
        left = max(0.0, min(100.0, 100 * span["offset_ms"] / total))
        width = max(0.3, min(100.0 - left, 100 * span["duration_ms"] / total))
        attrs = span.get("attrs") or {}
        rows.append(
            {
                **span,
                "depth": d,
                "depth_class": min(d, MAX_DEPTH_CLASS),
                "left": left,
                "width": width,
                "sql": attrs.get("sql"),
                "url": attrs.get("url"),
                "method": attrs.get("method"),
                "other_attrs": sorted((k, v) for k, v in attrs.items() if k not in ("sql", "url", "method")),
            }
        )
    return rows


@org_view()
@app_page
def trace_detail(request, app, trace_id):
    org = request.org
    if not TRACE_ID.match(trace_id):
        raise Http404("No such trace")
    result = queries.trace(org, app, trace_id)
    if result is None:
        raise Http404("No such trace")
    trace = result["trace"]
    related = queries.traces_sharing_id(org, trace_id, exclude_app=app)
    context = app_page_context(
        request,
        app,
        "transactions",
        trace=trace,
        rows=waterfall(trace["spans"], trace["duration_ms"]),
        related=related,
    )
    return render(request, "frontend/trace_detail.html", context)
