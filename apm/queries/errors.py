"""Error groups of an app: the ranked list, one group's detail, and the errors page's extras."""

import json
import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django.conf import settings

from apm.queries.base import AppRef, Instant, OrgRef, align, app_id, org_id, rows as _rows, series_resolution, to_dt, to_unix


def _group_dict(row, count=None):
    gid, cls, message, top, txn, first, last, total = row[:8]
    return {
        "id": str(gid),
        "error_class": cls,
        "message": message,
        "top_frame": top,
        "transaction": txn or None,
        "count": count if count is not None else total,
        "total_count": total,
        "first_seen": first.timestamp(),
        "last_seen": last.timestamp(),
    }


_GROUP_COLUMNS = "g.id, g.error_class, g.message, g.top_frame, g.transaction_name, g.first_seen, g.last_seen, g.count"


def error_groups(org: OrgRef, app: AppRef, since: Instant, until: Instant, limit: int = 50) -> dict[str, Any]:
    since, until = to_unix(since), to_unix(until)
    start, end = align(since, until, 60)
    rows = _rows(
        f"SELECT {_GROUP_COLUMNS}, sum(m.count) AS n FROM apm_errorminute m JOIN apm_errorgroup g ON g.id = m.group_id "
        "WHERE m.organization_id = %s AND m.app_id = %s AND m.time >= %s AND m.time < %s "
        "GROUP BY g.id ORDER BY n DESC, g.last_seen DESC LIMIT %s",
        [org_id(org), app_id(app), to_dt(start), to_dt(end), int(limit)],
    )
    return {"from": start, "to": end, "groups": [_group_dict(r, int(r[8])) for r in rows]}


def error_group(
    org: OrgRef, app: AppRef, group_id: uuid.UUID | str, since: Instant, until: Instant
) -> dict[str, Any] | None:
    """Group detail with its dense count series and newest samples; None when not this app's."""
    since, until = to_unix(since), to_unix(until)
    rows = _rows(
        f"SELECT {_GROUP_COLUMNS} FROM apm_errorgroup g WHERE g.organization_id = %s AND g.app_id = %s AND g.id = %s",
        [org_id(org), app_id(app), str(group_id)],
    )
    if not rows:
        return None
    step = series_resolution(until - since)
    start, end = align(since, until, step)
    counts = dict(
        _rows(
            "SELECT (extract(epoch FROM time)::bigint / %s) * %s AS b, sum(count) FROM apm_errorminute "
            "WHERE organization_id = %s AND group_id = %s AND time >= %s AND time < %s GROUP BY b",
            [step, step, org_id(org), str(group_id), to_dt(start), to_dt(end)],
        )
    )
    series = [{"t": t, "count": int(counts.get(t, 0))} for t in range(start, end, step)]
    group = _group_dict(rows[0], sum(p["count"] for p in series))
    samples = [
        {
            "time": t.timestamp(),
            "error_class": cls,
            "message": message,
            "transaction": txn or None,
            "trace_id": trace_id,
            "stack": stack,
        }
        for t, cls, message, txn, trace_id, stack in _rows(
            "SELECT time, error_class, message, transaction_name, trace_id, stack FROM apm_errorsample "
            "WHERE organization_id = %s AND group_id = %s ORDER BY time DESC, id DESC LIMIT %s",
            [org_id(org), str(group_id), settings.ERROR_SAMPLES_PER_GROUP],
        )
    ]
    for s in samples:
        if isinstance(s["stack"], str):
            s["stack"] = json.loads(s["stack"])
    return {"group": group, "from": start, "to": end, "resolution": step, "series": series, "samples": samples}


def error_counts(
    org: OrgRef, app: AppRef, group_ids: Sequence[uuid.UUID | str], since: Instant, until: Instant, step: int
) -> dict[str, dict[int, int]]:
    """{group id: {bucket start: count}} for the given groups, bucketed by ``step`` seconds."""
    if not group_ids:
        return {}
    rows = _rows(
        """SELECT group_id, floor(extract(epoch FROM time) / %s)::bigint * %s AS bucket, SUM(count)::bigint
           FROM apm_errorminute
           WHERE organization_id = %s AND app_id = %s AND group_id = ANY(%s) AND time >= %s AND time < %s
           GROUP BY group_id, bucket""",
        [step, step, org_id(org), app_id(app), list(group_ids), since, until],
    )
    out: dict[str, dict[int, int]] = defaultdict(dict)
    for group_id, bucket, count in rows:
        out[group_id][bucket] = count
    return out


def affected_transactions(org: OrgRef, group_ids: Sequence[uuid.UUID | str]) -> dict[str, list[str]]:
    """{group id: sorted transaction names seen in its kept samples}."""
    rows = _rows(
        """SELECT DISTINCT group_id, transaction_name FROM apm_errorsample
           WHERE organization_id = %s AND group_id = ANY(%s) AND transaction_name <> ''""",
        [org_id(org), list(group_ids)],
    )
    out = defaultdict(list)
    for group_id, name in rows:
        out[group_id].append(name)
    return {k: sorted(v) for k, v in out.items()}
