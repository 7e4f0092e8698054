"""Sampled transactions (the agent's reservoir) of an app, newest first, for the live scatter."""

from typing import Any

from apm.models import EVENT_BATCH_SPAN
from apm.queries.base import AppRef, Instant, OrgRef, app_id, org_id, rows as _rows, to_dt, to_unix


def events(
    org: OrgRef,
    app: AppRef,
    since: Instant,
    until: Instant,
    transaction: int | None = None,
    txn_type: str | None = None,
    limit: int = 2000,
) -> dict[str, Any]:
    since, until = to_unix(since), to_unix(until)
    # The newest ``limit`` (+1, to tell truncation): if a window's tail [lo, until) already
    # holds more than ``limit``, they are the newest of the whole window. Growing the tail
    # from 1 s keeps a busy app from unnesting every event of the window, at a few cheap
    # index lookups for a quiet one.
    newest = _rows(
        "SELECT extract(epoch FROM max(end_max)) FROM apm_eventbatch WHERE organization_id = %s AND app_id = %s "
        "AND end_max >= %s AND end_max < %s",
        [org_id(org), app_id(app), to_dt(since - 0.001), to_dt(until + EVENT_BATCH_SPAN + 0.001)],
    )[0][0]
    top = min(until, float(newest)) if newest is not None else since
    span = 1.0
    while True:
        lo = max(since, top - span)
        rows = _events_between(org, app, lo, until, transaction, txn_type, int(limit) + 1)
        if len(rows) > limit or lo <= since:
            break
        span *= 8
    truncated = len(rows) > limit
    return {
        "from": since,
        "to": until,
        "truncated": truncated,
        "events": [
            {
                "t": float(t),
                "transaction_id": tid,
                "name": name,
                "type": typ,
                "duration_ms": d * 1000.0,
                "status": status,
                "error": error,
                "trace_id": trace_id,
                "has_trace": has_trace,
            }
            for t, tid, name, typ, d, status, error, trace_id, has_trace in rows[:limit]
        ],
    }


def _events_between(
    org: OrgRef, app: AppRef, since: float, until: float, transaction: int | None, txn_type: str | None, n: int
) -> list[tuple]:
    """The newest ``n`` events of [since, until), newest first."""
    params = [org_id(org), app_id(app), to_dt(since), to_dt(until)]
    extra = ""
    if transaction is not None:
        extra += " AND e.transaction_id = %s"
        params.append(int(transaction))
    if txn_type is not None:
        # By id, so transaction names are joined only to the ``n`` rows kept.
        extra += " AND e.transaction_id = ANY(ARRAY(SELECT id FROM apm_transaction WHERE app_id = %s AND type = %s))"
        params += [app_id(app), txn_type]
    params.append(n)
    # Events are stored as arrays, one row per payload (apm.models.EventBatch): rows that
    # may hold events of the window are found by their end_max (index, partitions: a
    # row's events end at most EVENT_BATCH_SPAN before it) and end_min, then unnested.
    # The 1 ms slack covers rounding of the bounds to microseconds.
    return _rows(
        "SELECT extract(epoch FROM to_timestamp(e.end_time)), e.transaction_id, t.name, t.type, e.duration, "
        "e.status, e.error, e.trace_id, e.has_trace FROM (SELECT e.* FROM apm_eventbatch b CROSS JOIN LATERAL "
        "unnest(b.end_times, b.transaction_ids, b.durations, b.statuses, b.errors, b.trace_ids, b.has_trace) "
        "AS e(end_time, transaction_id, duration, status, error, trace_id, has_trace) "
        "WHERE b.organization_id = %s AND b.app_id = %s AND b.end_max >= %s AND b.end_max < %s AND b.end_min < %s "
        "AND to_timestamp(e.end_time) >= %s AND to_timestamp(e.end_time) < %s"
        + extra
        + " ORDER BY e.end_time DESC LIMIT %s) e JOIN apm_transaction t ON t.id = e.transaction_id "
        "ORDER BY e.end_time DESC",
        [
            params[0],
            params[1],
            to_dt(since - 0.001),
            to_dt(until + EVENT_BATCH_SPAN + 0.001),
            to_dt(until + 0.001),
            *params[2:],
        ],
    )
