"""Metric series and totals of an app or one transaction, over the rollup rows.

Percentiles come from the cached sketch work of apm/queries/sketchcache.py; totals read
the coarsest rows that fit (days, then hours, then the minutes at the edges).
"""

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from apm.models import AppMinute
from apm.queries.base import (
    AppRef,
    Instant,
    OrgRef,
    ROW_COLUMNS,
    TABLES,
    align,
    app_id,
    org_id,
    range_plan,
    rows,
    series_resolution,
    tiers,
    to_dt,
    to_unix,
    transaction_info,
)
from apm.queries.sketchcache import Row, merged_quantiles_of, series_quantiles
from apm.queries.stats import NO_QUANTILES, Acc, Quantiles
from apm.sketches import decode

log = logging.getLogger(__name__)


def rollups(
    org: OrgRef, app: AppRef, step: int, start: int, end: int, transaction: int | None = None, txn_type: str = "web"
) -> list[tuple]:
    """(id, time, 12 stat columns) rows of an app (or one transaction) at one resolution, by time."""
    txn_table, app_table = TABLES[step]
    head = f"SELECT id, extract(epoch FROM time)::bigint, {ROW_COLUMNS} FROM"
    common = "organization_id = %s AND app_id = %s AND time >= %s AND time < %s"
    params = [org_id(org), app_id(app), to_dt(start), to_dt(end)]
    if transaction is not None:
        return rows(f"{head} {txn_table} WHERE {common} AND transaction_id = %s ORDER BY time", params + [int(transaction)])
    return rows(f"{head} {app_table} WHERE {common} AND txn_type = %s ORDER BY time", params + [txn_type])


def _kind(transaction: int | None) -> str:
    return "t" if transaction is not None else "a"


def timeseries(
    org: OrgRef, app: AppRef, since: Instant, until: Instant, transaction: int | None = None, txn_type: str = "web"
) -> dict[str, Any]:
    """``from``, ``to``, ``resolution``, ``points`` and ``totals`` of the timeseries response:
    dense points at the resolution series_resolution picks, buckets aligned to it."""
    since, until = to_unix(since), to_unix(until)
    step = series_resolution(until - since)
    start, end = align(since, until, step)
    kind = _kind(transaction)
    found = rollups(org, app, step, start, end, transaction, txn_type)
    keyed = [Row(kind, step, r[0], r[2], r[1]) for r in found]
    total = Acc()
    by_time = {}
    for row, quant in zip(found, series_quantiles(org, keyed)):
        total.add_row(*row[2:14])
        acc = Acc()
        acc.add_row(*row[2:14])
        by_time[row[1]] = acc.stats(step / 60.0, quant)
    empty = Acc().stats(step / 60.0)
    points = [{"t": t, **by_time.get(t, empty)} for t in range(start, end, step)]

    # Totals' percentiles: coarser rows for the inside of the range, the series' own rows at the edges.
    merge = []
    for tier_step, a, b in tiers(start, end, step):
        if tier_step == step:
            merge += [r for r in keyed if a <= r.time < b]
        else:
            merge += [Row(kind, tier_step, r[0], r[2], r[1]) for r in rollups(org, app, tier_step, a, b, transaction, txn_type)]
    totals = total.stats((end - start) / 60.0, merged_quantiles_of(org, merge))
    return {"from": start, "to": end, "resolution": step, "points": points, "totals": totals}


def window_stats(
    org: OrgRef, app: AppRef, since: Instant, until: Instant, transaction: int | None = None, txn_type: str = "web"
) -> dict[str, Any]:
    """The ``stats`` object over [since, until), exact to the minute (see base.range_plan)."""
    since, until = to_unix(since), to_unix(until)
    kind = _kind(transaction)
    acc = Acc()
    keyed = []
    for step, start, end in range_plan(since, until):
        for r in rollups(org, app, step, start, end, transaction, txn_type):
            acc.add_row(*r[2:14])
            keyed.append(Row(kind, step, r[0], r[2], r[1]))
    return acc.stats(max((until - since) / 60.0, 1.0), merged_quantiles_of(org, keyed))


def transaction_detail(
    org: OrgRef, app: AppRef, txn_id: int | str, since: Instant, until: Instant
) -> dict[str, Any] | None:
    """The transaction detail response, or None when it is not a transaction of the app."""
    txn = transaction_info(org, app, txn_id)
    if txn is None:
        return None
    since, until = to_unix(since), to_unix(until)
    stats = window_stats(org, app, since, until, transaction=txn["id"], txn_type=txn["type"])
    return {"transaction": txn, "from": int(since), "to": int(until), "totals": stats}


def minute_points(org: OrgRef, app: AppRef, minutes: Iterable[int]) -> dict[str, list[dict[str, Any]]]:
    """An app's minute rows at the given minutes (unix seconds), each as a ``stats`` dict with
    its ``t``, by transaction type, in time order: what a live update carries."""
    times = [datetime.fromtimestamp(m, tz=UTC) for m in minutes]
    found = AppMinute.objects.for_org(org_id(org)).filter(app_id=app_id(app), time__in=times).order_by("time")
    points: dict[str, list[dict[str, Any]]] = {"web": [], "background": []}
    for row in found:
        acc = Acc()
        acc.add_rollup(row)
        points.setdefault(row.txn_type, []).append({"t": int(row.time.timestamp()), **acc.stats(1, _quantiles(row))})
    return points


def _quantiles(row: AppMinute) -> Quantiles:
    if not (row.count and row.sketch):
        return NO_QUANTILES
    try:
        sketch = decode(row.sketch)
    except ValueError:
        log.warning("undecodable sketch in minute row %s", row.pk)
        return NO_QUANTILES
    return (sketch.quantile(0.5), sketch.quantile(0.95), sketch.quantile(0.99))
