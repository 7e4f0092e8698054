"""What every query module shares: time conversions, the rollup tables and the plan of which
rows cover a range."""

import datetime as dt
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, overload

from django.conf import settings
from django.db import connection

from apm.models import Transaction
from tenants.models import App, Organization

OrgRef = Organization | int  # an organisation or its id
AppRef = App | uuid.UUID | str  # an app (fetched through its organisation) or its id
Instant = dt.datetime | float  # an aware datetime or unix seconds
Plan = list[tuple[int, int, int]]  # [(step, start, end)]

UTC = dt.timezone.utc
MAX_POINTS = 1500

# resolution seconds -> (per-transaction table, per-app table)
TABLES = {
    60: ("apm_transactionminute", "apm_appminute"),
    3600: ("apm_transactionhour", "apm_apphour"),
    86400: ("apm_transactionday", "apm_appday"),
}
ROW_COLUMNS = (
    "count, errors, sum, min, max, apdex_s, apdex_t, apdex_f, seg_python, seg_database, seg_external, seg_template"
)


@overload
def to_unix(value: Instant) -> float: ...
@overload
def to_unix(value: None) -> None: ...
def to_unix(value: Instant | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.timestamp()
    return float(value)


def to_dt(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, UTC)


def org_id(org: OrgRef) -> int:
    return getattr(org, "pk", org)


def app_id(app: AppRef) -> str:
    return str(getattr(app, "pk", app))


def rows(sql: str, params: Sequence[Any] | Mapping[str, Any]) -> list[tuple]:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000.0


def align(since: float, until: float, step: int) -> tuple[int, int]:
    """[start, end) of whole ``step`` buckets covering [since, until), at least one bucket."""
    start = int(since // step) * step
    end = int(-(-until // step)) * step
    if end <= start:
        end = start + step
    return start, end


def series_resolution(span: float) -> int:
    """Seconds per point for a span so that there are at most MAX_POINTS points."""
    if span <= 25 * 3600:
        return 60
    if span <= 62 * 86400:
        return 3600
    return 86400


def tiers(start: int, end: int, finest: int, coarsest: int = 86400) -> Plan:
    """[(step, start, end)] covering [start, end) (aligned to ``finest``) with the coarsest rows
    up to ``coarsest``: whole days from day rows, whole hours from hour rows, only the edges
    from finer rows."""
    for step in (86400, 3600):
        if step <= finest or step > coarsest:
            continue
        first = -(-start // step) * step
        last = end // step * step
        if last - first >= step:
            return (
                (tiers(start, first, finest, coarsest) if first > start else [])
                + [(step, first, last)]
                + (tiers(last, end, finest, coarsest) if end > last else [])
            )
    return [(finest, start, end)] if end > start else []


DOWNSAMPLED_AFTER = 150  # seconds after an hour closes by which beat has written its row


def range_plan(
    since: float, until: float, finest: int = 60, coarsest: int = 86400, now: float | None = None
) -> Plan:
    """[(step, start, end)] covering [since, until) aligned to ``finest``, the coarsest rows
    (up to ``coarsest``) inside.

    Exact to ``finest`` at the edges, except where the finer rows are past retention:
    there the edge is widened to the hour (or the day).
    """
    now = now or time.time()
    start, end = align(since, until, finest)
    minute_horizon = now - settings.RETENTION_MINUTE_DAYS * 86400 + 3600
    if start < minute_horizon:
        start = start // 3600 * 3600
        if end < minute_horizon:
            end = -(-end // 3600) * 3600
    if start < now - settings.RETENTION_HOUR_DAYS * 86400 + 86400:
        start = start // 86400 * 86400
    # Hour and day rows are written by the downsampling beat runs every minute: an hour
    # still open (or closed less than DOWNSAMPLED_AFTER ago) is read from its minutes,
    # else a range ending at 10:59:30 would miss up to a minute of data (and all of it
    # before the first run).
    settled = int((now - DOWNSAMPLED_AFTER) // 3600 * 3600)
    if finest >= 3600 or end <= settled:
        return tiers(start, end, finest, coarsest)
    plan = tiers(start, settled, finest, coarsest) if start < settled else []
    if plan and plan[-1][0] == finest:
        return plan[:-1] + [(finest, plan[-1][1], end)]
    return plan + [(finest, max(start, settled), end)]


def app_info(app: App) -> dict[str, Any]:
    return {"id": str(app.pk), "name": app.name, "apdex_t": app.apdex_t}


def transaction_info(org: OrgRef, app: AppRef, txn_id: int | str) -> dict[str, Any] | None:
    """{id, name, type} of one transaction of the app, or None."""
    found = rows(
        "SELECT id, name, type FROM apm_transaction WHERE organization_id = %s AND app_id = %s AND id = %s",
        [org_id(org), app_id(app), int(txn_id)],
    )
    if not found:
        return None
    i, name, typ = found[0]
    return {"id": i, "name": name, "type": typ}


def transaction_names(org: OrgRef, limit: int = 500) -> list[str]:
    """Distinct transaction names of every app of the organisation, alphabetically (at most ``limit``)."""
    names = Transaction.objects.for_org(org).order_by("name").values_list("name", flat=True).distinct()
    return list(names[:limit])
