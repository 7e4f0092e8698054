"""What a Prometheus scrape reads (apm/prometheus.py): an organisation's totals since the start
of the UTC day, its recent percentiles and Apdex, and its processes' latest samples.

Totals are counters, so they must never go down between two scrapes. They are read as the
sum of today's hour rows, except for the hours an ingest batch has touched since their last
downsample (apm/stale_hours.py) or that have no hour rows yet, which are read from their
minute rows: in one statement, so one snapshot. An hour row is the sum of its minutes at
the time of its downsample and an unmarked hour has had no batch since, so each hour is
counted as the sum of its minute rows at some moment, never less than at an earlier
scrape. The day start is the counters' origin (their ``created`` time): they start again
from zero each UTC day, which Prometheus's ``rate`` and ``increase`` read as a reset.
"""

from collections import defaultdict
from collections.abc import Callable, Hashable
from typing import Any, NamedTuple

from apm.queries.base import ROW_COLUMNS, OrgRef, org_id, rows, to_dt
from apm.queries.sketchcache import Row, merged_quantiles
from apm.queries.stats import NO_QUANTILES, Acc, Quantiles

RECENT_SECONDS = 300  # the closed minutes percentiles and Apdex are taken over
DAY = 86400

# (hour table, minute table, key column): per transaction and per app and type.
_TOTALS_SOURCES = {
    "t": ("apm_transactionhour", "apm_transactionminute", "transaction_id"),
    "a": ("apm_apphour", "apm_appminute", "txn_type"),
}


class Totals(NamedTuple):
    requests: int
    errors: int
    seconds: float  # total duration


class Recent(NamedTuple):
    apdex: float | None
    quantiles: Quantiles  # p50, p95, p99 in seconds


def day_start(now: float) -> int:
    return int(now // DAY * DAY)


def recent_window(now: float) -> tuple[int, int]:
    """[start, end) of the closed minutes before ``now`` that percentiles are taken over."""
    end = int(now // 60 * 60)
    return end - RECENT_SECONDS, end


def _totals(org: OrgRef, kind: str, since: int) -> list[tuple]:
    hours, minutes, key = _TOTALS_SOURCES[kind]
    return rows(
        f"WITH stale AS (SELECT hour FROM apm_stalehour WHERE organization_id = %(org)s AND hour >= %(since)s), "
        f"rolled AS (SELECT DISTINCT time FROM {hours} WHERE organization_id = %(org)s AND time >= %(since)s) "
        f"SELECT app_id, {key}, sum(count)::bigint, sum(errors)::bigint, sum(sum)::float8 FROM ("
        f"  SELECT app_id, {key}, count, errors, sum FROM {hours} "
        "   WHERE organization_id = %(org)s AND time >= %(since)s AND time NOT IN (SELECT hour FROM stale)"
        "  UNION ALL"
        f"  SELECT app_id, {key}, count, errors, sum FROM {minutes} "
        "   WHERE organization_id = %(org)s AND time >= %(since)s"
        "     AND (date_trunc('hour', time) IN (SELECT hour FROM stale)"
        "          OR date_trunc('hour', time) NOT IN (SELECT time FROM rolled))"
        f") u GROUP BY app_id, {key}",
        {"org": org_id(org), "since": to_dt(since)},
    )


def transaction_totals(org: OrgRef, since: int) -> dict[int, Totals]:
    """{transaction id: Totals} of the organisation's transactions since ``since`` (a day start)."""
    return {r[1]: Totals(*r[2:]) for r in _totals(org, "t", since)}


def app_totals(org: OrgRef, since: int) -> dict[tuple[str, str], Totals]:
    """{(app id, transaction type): Totals} since ``since`` (a day start)."""
    return {(str(r[0]), r[1]): Totals(*r[2:]) for r in _totals(org, "a", since)}


def _recent(org: OrgRef, kind: str, sql: str, params: list[Any], key: Callable[[tuple], Hashable]) -> dict[Any, Recent]:
    """{key(row): Recent} of rows (*key columns, row id, bucket start, *ROW_COLUMNS), percentiles
    merged per key."""
    accs: dict[Any, Acc] = defaultdict(Acc)
    groups: dict[Any, list[Row]] = defaultdict(list)
    for r in rows(sql, params):
        k = key(r)
        accs[k].add_row(*r[-12:])
        groups[k].append(Row(kind, 60, r[-14], r[-12], r[-13]))
    quants = merged_quantiles(org, groups) if groups else {}
    return {k: Recent(acc.apdex(), quants.get(k, NO_QUANTILES)) for k, acc in accs.items()}


def recent_transactions(org: OrgRef, start: int, end: int) -> dict[int, Recent]:
    """{transaction id: Recent} over the minute rows of [start, end)."""
    return _recent(
        org,
        "t",
        f"SELECT transaction_id, id, extract(epoch FROM time)::bigint, {ROW_COLUMNS} FROM apm_transactionminute "
        "WHERE organization_id = %s AND time >= %s AND time < %s",
        [org_id(org), to_dt(start), to_dt(end)],
        lambda r: r[0],
    )


def recent_apps(org: OrgRef, start: int, end: int) -> dict[tuple[str, str], Recent]:
    """{(app id, transaction type): Recent} over the app minute rows of [start, end)."""
    return _recent(
        org,
        "a",
        f"SELECT app_id, txn_type, id, extract(epoch FROM time)::bigint, {ROW_COLUMNS} "
        "FROM apm_appminute WHERE organization_id = %s AND time >= %s AND time < %s",
        [org_id(org), to_dt(start), to_dt(end)],
        lambda r: (str(r[0]), r[1]),
    )


def transactions_of(org: OrgRef, ids: set[int]) -> dict[int, tuple[str, str, str]]:
    """{transaction id: (app id, name, type)} of the given transactions of the organisation."""
    if not ids:
        return {}
    return {
        r[0]: (str(r[1]), r[2], r[3])
        for r in rows(
            "SELECT id, app_id, name, type FROM apm_transaction WHERE organization_id = %s AND id = ANY(%s)",
            [org_id(org), list(ids)],
        )
    }


def app_names(org: OrgRef) -> dict[str, str]:
    """{app id: name} of the organisation's apps."""
    return {str(r[0]): r[1] for r in rows("SELECT id, name FROM tenants_app WHERE organization_id = %s", [org_id(org)])}


def latest_instances(org: OrgRef, since: float) -> list[tuple[str, str, int, float | None, int | None]]:
    """(app id, host, pid, CPU percent, memory bytes) of each process's latest sample since ``since``."""
    return [
        (str(r[0]), r[1], r[2], r[3], r[4])
        for r in rows(
            "SELECT DISTINCT ON (app_id, host, pid) app_id, host, pid, cpu_percent, memory_bytes "
            "FROM apm_instanceminute WHERE organization_id = %s AND time >= %s "
            "ORDER BY app_id, host, pid, time DESC",
            [org_id(org), to_dt(since)],
        )
    ]
