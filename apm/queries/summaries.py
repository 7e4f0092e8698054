"""The apps page: one summary per app of an organisation, and whether an app ever reported."""

import time
from collections import defaultdict
from typing import Any

from django.conf import settings

from apm.models import AppDay, AppHour, AppMinute
from apm.queries.base import ROW_COLUMNS, AppRef, OrgRef, org_id, rows as _rows, to_dt
from apm.queries.health import status_of
from apm.queries.sketchcache import Row, decoded_sketches, merged
from apm.queries.stats import NO_QUANTILES, Acc
from apm.sketches import quantiles
from tenants.models import App


def has_data(org: OrgRef, app: AppRef) -> bool:
    """Whether any rollup of the app exists (to tell "never reported" from "quiet lately")."""
    return any(
        model.objects.for_org(org).filter(app=app).exists() for model in (AppMinute, AppHour, AppDay)
    )


def app_summaries(org: OrgRef, minutes: int = 5, now: float | None = None) -> list[dict[str, Any]]:
    """One entry per app of the organisation: status, summary stats over the last ``minutes``
    of web transactions, last-hour rpm sparkline (the ``apps`` response list).

    The latest minute of each app and type is one backward index scan, instead of
    aggregating every minute row of the retention window.
    """
    now = now or time.time()
    end = int(now // 60) * 60 + 60
    spark_start = end - 3600
    window_start = end - 60 * minutes
    apps = list(App.objects.for_org(org).order_by("name"))
    rows = _rows(
        f"SELECT app_id, extract(epoch FROM time)::bigint, {ROW_COLUMNS}, id FROM apm_appminute "
        "WHERE organization_id = %s AND txn_type = 'web' AND time >= %s AND time < %s",
        [org_id(org), to_dt(spark_start), to_dt(end)],
    )
    latest = "(SELECT m.time FROM apm_appminute m WHERE m.app_id = a.id AND m.txn_type = %s AND m.time >= %s ORDER BY m.time DESC LIMIT 1)"
    since = to_dt(now - settings.RETENTION_MINUTE_DAYS * 86400)
    last = {
        app_id: seen
        for app_id, seen in _rows(
            f"SELECT a.id, extract(epoch FROM GREATEST({latest}, {latest})) FROM tenants_app a WHERE a.organization_id = %s",
            ["web", since, "background", since, org_id(org)],
        )
    }
    per_app = defaultdict(list)
    for row in rows:
        per_app[row[0]].append(row)
    window = [r for r in rows if r[1] >= window_start]
    sketches = dict(zip([r[-1] for r in window], decoded_sketches(org, [Row("a", 60, r[-1], r[2], r[1]) for r in window])))
    out = []
    for app in apps:
        acc = Acc()
        spark = [0.0] * 60
        parts = []
        for row in per_app.get(app.pk, []):
            spark[(row[1] - spark_start) // 60] += row[2]
            if row[1] >= window_start:
                acc.add_row(*row[2:14])
                parts.append(sketches[row[-1]])
        sketch = merged(parts)
        stats = acc.stats(float(minutes), quantiles(sketch) if sketch else NO_QUANTILES)
        seen = last.get(app.pk)
        out.append(
            {
                "id": str(app.pk),
                "name": app.name,
                "apdex_t": app.apdex_t,
                "status": status_of(stats),
                "last_seen": float(seen) if seen is not None else None,
                "summary": stats,
                "sparkline": {"start": spark_start, "step": 60, "rpm": spark},
            }
        )
    return out
