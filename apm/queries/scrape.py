"""What a Prometheus scrape reads (apm/prometheus.py): an organisation's totals since the start
of the UTC day, its recent percentiles and Apdex, and its processes' latest samples.

Totals are counters, so they must never go down between two scrapes. They are read from
today's hour rows, except for the hours an ingest batch has touched since their last
downsample (the marks of apm/stale_hours.py) or that have no hour rows yet: those are read
from their minute rows. The marks are read before the rows. An unmarked hour's row holds
every batch committed to the hour (a batch that commits during a downsample keeps its
mark), so each hour counts the sum of its minute rows at some moment no earlier than the
previous scrape's: the total never goes down during the day. The day start is the
counters' origin (their ``created`` time): they start again from zero each UTC day, which
Prometheus's ``rate`` and ``increase`` read as a reset.

Rows are selected by the organisation's app ids, so the (app, time) indexes serve them.
"""

from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from typing import Any, NamedTuple

from apm.queries.base import ROW_COLUMNS, OrgRef, org_id, rows, to_dt
from apm.queries.sketchcache import Row, merged_quantiles
from apm.queries.stats import NO_QUANTILES, Acc, Quantiles

RECENT_SECONDS = 300  # the closed minutes percentiles and Apdex are taken over
DAY = 86400
HOUR = 3600

# kind -> (hour table, minute table, key column): per transaction, per app and type.
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


def app_names(org: OrgRef) -> dict[str, str]:
    """{app id: name} of the organisation's apps."""
    return {str(r[0]): r[1] for r in rows("SELECT id, name FROM tenants_app WHERE organization_id = %s", [org_id(org)])}


def hours_from_minutes(org: OrgRef, app_ids: Sequence[str], since: int, now: float) -> dict[str, list[int]]:
    """{kind: [hour starts]}: the hours of [since, now) whose totals come from minute rows."""
    found = rows(
        "SELECT 's', extract(epoch FROM hour)::bigint FROM apm_stalehour WHERE organization_id = %(org)s "
        "AND hour >= %(since)s "
        + "".join(
            f"UNION ALL SELECT DISTINCT '{kind}', extract(epoch FROM time)::bigint FROM {hours} "
            "WHERE organization_id = %(org)s AND app_id = ANY(%(apps)s::uuid[]) AND time >= %(since)s "
            for kind, (hours, _, _) in _TOTALS_SOURCES.items()
        ),
        {"org": org_id(org), "apps": list(app_ids), "since": to_dt(since)},
    )
    seen: dict[str, set[int]] = defaultdict(set)
    for kind, hour in found:
        seen[kind].add(hour)
    today = range(since, int(now // HOUR * HOUR) + HOUR, HOUR)
    return {kind: [h for h in today if h in seen["s"] or h not in seen[kind]] for kind in _TOTALS_SOURCES}


def _totals(org: OrgRef, kind: str, app_ids: Sequence[str], since: int, from_minutes: Sequence[int]) -> list[tuple]:
    hours, minutes, key = _TOTALS_SOURCES[kind]
    params: dict[str, Any] = {"org": org_id(org), "apps": list(app_ids), "since": to_dt(since)}
    params.update({f"h{i}": to_dt(h) for i, h in enumerate(from_minutes)})
    params.update({f"e{i}": to_dt(h + HOUR) for i, h in enumerate(from_minutes)})
    mine = "organization_id = %(org)s AND app_id = ANY(%(apps)s::uuid[])"
    sql = (
        f"SELECT app_id, {key}, count, errors, sum FROM {hours} WHERE {mine} AND time >= %(since)s"
        + "".join(f" AND time <> %(h{i})s" for i in range(len(from_minutes)))
    )
    if from_minutes:
        spans = " OR ".join(f"(time >= %(h{i})s AND time < %(e{i})s)" for i in range(len(from_minutes)))
        sql += f" UNION ALL SELECT app_id, {key}, count, errors, sum FROM {minutes} WHERE {mine} AND ({spans})"
    return rows(
        f"SELECT app_id, {key}, sum(count)::bigint, sum(errors)::bigint, sum(sum)::float8 FROM ({sql}) u "
        f"GROUP BY app_id, {key}",
        params,
    )


def transaction_totals(
    org: OrgRef, app_ids: Sequence[str], since: int, from_minutes: Sequence[int]
) -> dict[int, Totals]:
    """{transaction id: Totals} since ``since`` (a day start); ``from_minutes``: see hours_from_minutes."""
    return {r[1]: Totals(*r[2:]) for r in _totals(org, "t", app_ids, since, from_minutes)}


def app_totals(
    org: OrgRef, app_ids: Sequence[str], since: int, from_minutes: Sequence[int]
) -> dict[tuple[str, str], Totals]:
    """{(app id, transaction type): Totals} since ``since`` (a day start)."""
    return {(str(r[0]), r[1]): Totals(*r[2:]) for r in _totals(org, "a", app_ids, since, from_minutes)}


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


_RECENT_WHERE = "WHERE organization_id = %s AND app_id = ANY(%s::uuid[]) AND time >= %s AND time < %s"


def recent_transactions(org: OrgRef, app_ids: Sequence[str], start: int, end: int) -> dict[int, Recent]:
    """{transaction id: Recent} over the minute rows of [start, end)."""
    return _recent(
        org,
        "t",
        f"SELECT transaction_id, id, extract(epoch FROM time)::bigint, {ROW_COLUMNS} FROM apm_transactionminute "
        + _RECENT_WHERE,
        [org_id(org), list(app_ids), to_dt(start), to_dt(end)],
        lambda r: r[0],
    )


def recent_apps(org: OrgRef, app_ids: Sequence[str], start: int, end: int) -> dict[tuple[str, str], Recent]:
    """{(app id, transaction type): Recent} over the app minute rows of [start, end)."""
    return _recent(
        org,
        "a",
        f"SELECT app_id, txn_type, id, extract(epoch FROM time)::bigint, {ROW_COLUMNS} FROM apm_appminute "
        + _RECENT_WHERE,
        [org_id(org), list(app_ids), to_dt(start), to_dt(end)],
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


def latest_instances(
    org: OrgRef, app_ids: Sequence[str], since: float
) -> list[tuple[str, str, int, float | None, int | None]]:
    """(app id, host, pid, CPU percent, memory bytes) of each process's latest sample since ``since``."""
    return [
        (str(r[0]), r[1], r[2], r[3], r[4])
        for r in rows(
            "SELECT DISTINCT ON (app_id, host, pid) app_id, host, pid, cpu_percent, memory_bytes "
            "FROM apm_instanceminute WHERE organization_id = %s AND app_id = ANY(%s::uuid[]) AND time >= %s "
            "ORDER BY app_id, host, pid, time DESC",
            [org_id(org), list(app_ids), to_dt(since)],
        )
    ]
