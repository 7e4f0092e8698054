"""Transactions of an app ranked over a range (the transactions endpoint and page)."""

from collections import defaultdict
from typing import Any

from django.conf import settings

from apm.queries.base import ROW_COLUMNS, AppRef, Instant, OrgRef, TABLES, app_id, ms, org_id, range_plan, rows, to_dt, to_unix
from apm.queries.sketchcache import Row, TooManySketches, merged_quantiles
from apm.queries.stats import NO_QUANTILES, Acc

SORTS = {
    "time": lambda r: r["total_time_s"],
    "avg": lambda r: r["avg_ms"] or 0.0,
    "p95": lambda r: r["p95_ms"] or 0.0,
    "rpm": lambda r: r["rpm"],
    "errors": lambda r: r["error_count"],
    "error_rate": lambda r: r["error_rate"] or 0.0,
}
_COLUMNS = ", ".join("r." + c for c in ROW_COLUMNS.split(", "))
WHOLE_HOURS_AFTER = 3 * 3600


def transactions(
    org: OrgRef,
    app: AppRef,
    since: Instant,
    until: Instant,
    txn_type: str = "web",
    sort: str = "time",
    limit: int = 50,
    q: str | None = None,
    percentiles: bool = True,
    whole_hours: bool = False,
) -> dict[str, Any]:
    """Transactions of one type ranked by ``sort``, with their stats over the range.

    The range is read as base.range_plan lays it out: exact to the minute, the whole
    hours and days inside from hour and day rows. With ``whole_hours``, ranges over three
    hours start and end on whole hours instead (fewer rows; ``from``/``to`` say so).
    Percentiles (cached merges) are computed only for the rows returned, unless the
    ranking is by p95; ``percentiles=False`` leaves them null. ``q`` filters names
    (case-insensitive substring); ``time_share`` stays a share of the whole app's time.

    Ranking by p95 merges every transaction's sketches: it is done only when at most
    P95_RANKING_MAX_SKETCHES of them are not cached (a short range, or one ranked lately);
    otherwise the ranking is by time consumed, and ``notice`` says why.
    """
    since, until = to_unix(since), to_unix(until)
    finest = 3600 if whole_hours and until - since > WHOLE_HOURS_AFTER else 60
    plan = range_plan(since, until, finest)
    start, end = plan[0][1], plan[-1][2]
    accs: dict[int, Acc] = {}
    names: dict[int, tuple[str, str]] = {}
    groups: dict[int, list[Row]] = defaultdict(list)
    for step, a, b in plan:
        for row in rows(
            f"SELECT r.transaction_id, t.name, t.type, r.id, extract(epoch FROM r.time)::bigint, {_COLUMNS} "
            f"FROM {TABLES[step][0]} r JOIN apm_transaction t ON t.id = r.transaction_id "
            "WHERE r.organization_id = %s AND r.app_id = %s AND t.type = %s AND r.time >= %s AND r.time < %s",
            [org_id(org), app_id(app), txn_type, to_dt(a), to_dt(b)],
        ):
            tid = row[0]
            acc = accs.get(tid)
            if acc is None:
                acc = accs[tid] = Acc()
                names[tid] = (row[1], row[2])
            acc.add_row(*row[5:17])
            groups[tid].append(Row("t", step, row[3], row[5], row[4]))
    total_time = sum(a.sum for a in accs.values())
    if q:
        needle = q.lower()
        accs = {tid: a for tid, a in accs.items() if needle in names[tid][0].lower()}
    # Rates over the range the figures cover: the hour-aligned one, or the one asked for.
    minutes = max(((end - start) if whole_hours else (until - since)) / 60.0, 1.0)
    table = [
        {
            "id": tid,
            "name": names[tid][0],
            "type": names[tid][1],
            "total_time_s": acc.sum,
            "time_share": acc.sum / total_time if total_time else 0.0,
            **acc.stats(minutes),
        }
        for tid, acc in accs.items()
    ]

    def with_percentiles(chosen: list[dict[str, Any]], most_decoded: int | None = None) -> None:
        quants = merged_quantiles(org, {r["id"]: groups[r["id"]] for r in chosen}, most_decoded=most_decoded)
        for r in chosen:
            p50, p95, p99 = quants[r["id"]] if r["count"] else NO_QUANTILES
            r.update(p50_ms=ms(p50), p95_ms=ms(p95), p99_ms=ms(p99))

    notice = None
    ranked_by_p95 = False
    if sort == "p95":
        try:
            with_percentiles(table, most_decoded=settings.P95_RANKING_MAX_SKETCHES)
            ranked_by_p95 = True
        except TooManySketches as exc:
            sort = "time"
            notice = (
                f"Ranking by p95 over this range would merge {exc.needed} percentile sketches, more than the "
                f"{settings.P95_RANKING_MAX_SKETCHES} allowed (P95_RANKING_MAX_SKETCHES): ranked by time consumed "
                "instead. Choose a shorter range to rank by p95."
            )
    key = SORTS.get(sort, SORTS["time"])
    table.sort(key=lambda r: (key(r), r["count"]), reverse=True)
    table = table[:limit]
    if percentiles and not ranked_by_p95 and table:
        with_percentiles(table)  # percentiles are not needed to rank: only for the rows shown
    return {"from": start, "to": end, "sort": sort, "notice": notice, "transactions": table}

