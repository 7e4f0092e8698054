"""Slow-transaction traces: the list, one trace with its spans, and traces sharing a W3C id."""

from typing import Any

import msgspec

from apm.models import Trace
from apm.queries.base import AppRef, Instant, OrgRef, app_id, org_id, rows as _rows, to_dt, to_unix


def traces(
    org: OrgRef, app: AppRef, since: Instant, until: Instant, transaction: int | None = None, limit: int = 50
) -> dict[str, Any]:
    since, until = to_unix(since), to_unix(until)
    params = [org_id(org), app_id(app), to_dt(since), to_dt(until)]
    extra = ""
    if transaction is not None:
        extra = " AND r.transaction_id = %s"
        params.append(int(transaction))
    params.append(int(limit))
    rows = _rows(
        "SELECT r.trace_id, r.transaction_id, t.name, t.type, extract(epoch FROM r.start), r.duration, r.status, "
        "r.error, r.span_count FROM apm_trace r JOIN apm_transaction t ON t.id = r.transaction_id "
        "WHERE r.organization_id = %s AND r.app_id = %s AND r.start >= %s AND r.start < %s"
        + extra
        + " ORDER BY r.duration DESC LIMIT %s",
        params,
    )
    return {"traces": [_trace_dict(r) for r in rows]}


def _trace_dict(r):
    trace_id, tid, name, typ, start, duration, status, error, span_count = r[:9]
    return {
        "trace_id": trace_id,
        "transaction_id": tid,
        "name": name,
        "type": typ,
        "start": float(start),
        "duration_ms": duration * 1000.0,
        "status": status,
        "error": error,
        "span_count": span_count,
    }


def trace(org: OrgRef, app: AppRef, trace_id: str) -> dict[str, Any] | None:
    """One trace with its spans (the slowest if the id was sent twice); None when not this app's."""
    rows = _rows(
        "SELECT r.trace_id, r.transaction_id, t.name, t.type, extract(epoch FROM r.start), r.duration, r.status, "
        "r.error, r.span_count, r.parent_span_id, r.spans FROM apm_trace r "
        "JOIN apm_transaction t ON t.id = r.transaction_id "
        "WHERE r.organization_id = %s AND r.app_id = %s AND r.trace_id = %s ORDER BY r.duration DESC LIMIT 1",
        [org_id(org), app_id(app), str(trace_id)],
    )
    if not rows:
        return None
    r = rows[0]
    spans = r[10]
    if isinstance(spans, (bytes, memoryview)):  # bytea: the JSON as ingest checked it
        spans = msgspec.json.decode(spans)
    out = _trace_dict(r)
    out["parent_span_id"] = r[9]
    out["spans"] = [
        {
            "id": s.get("id"),
            "parent": s.get("parent"),
            "kind": s.get("kind"),
            "name": s.get("name"),
            "offset_ms": s.get("offset", 0.0) * 1000.0,
            "duration_ms": s.get("duration", 0.0) * 1000.0,
            "attrs": s.get("attrs") or {},
        }
        for s in spans
    ]
    return {"trace": out}


def traces_sharing_id(org: OrgRef, trace_id: str, exclude_app: AppRef | None = None) -> list[dict[str, Any]]:
    """Traces of other services (apps) of the organisation with the same W3C trace id, by start."""
    qs = Trace.objects.for_org(org).filter(trace_id=trace_id).select_related("app", "transaction").order_by("start")
    if exclude_app is not None:
        qs = qs.exclude(app=exclude_app)
    return list(
        qs.only(
            "id", "trace_id", "start", "duration", "parent_span_id", "app__id", "app__name", "transaction__name",
            "transaction__id",
        )[:50]
    )
