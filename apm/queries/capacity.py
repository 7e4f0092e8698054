"""The capacity page: throughput peaks and concurrency, weekly traffic heatmap, CPU per TPS.

Durations in seconds; ``since``/``until`` are aware datetimes.
"""

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from typing import Any

from apm.queries.base import AppRef, OrgRef, app_id, org_id, rows as _rows

MINUTE_RETENTION = timedelta(days=8)


def peak_and_concurrency(
    org: OrgRef, app: AppRef, since: datetime, until: datetime, txn_type: str = "web"
) -> dict[str, Any]:
    """Throughput and Little's-law concurrency over [since, until).

    Peaks come from minute rows while the range is within minute retention, else from
    hour rows (then a peak is an hourly average, said by ``resolution``).
    """
    minutes = until - since <= MINUTE_RETENTION
    table, step = ("apm_appminute", 60) if minutes else ("apm_apphour", 3600)
    base = f"FROM {table} WHERE organization_id = %s AND app_id = %s AND txn_type = %s AND time >= %s AND time < %s"
    params = [org_id(org), app_id(app), txn_type, since, until]
    (count, busy, buckets), = _rows(f"SELECT COALESCE(SUM(count), 0)::bigint, COALESCE(SUM(sum), 0)::float8, COUNT(*) {base}", params)
    peak_tps = _rows(f"SELECT time, count {base} ORDER BY count DESC, time DESC LIMIT 1", params)
    peak_conc = _rows(f"SELECT time, sum {base} ORDER BY sum DESC, time DESC LIMIT 1", params)
    seconds = (until - since).total_seconds()
    return {
        "resolution": step,
        "count": count,
        "avg_tps": count / seconds if seconds else None,
        "avg_response_s": busy / count if count else None,
        # L = λW averaged over the range is the busy time divided by the elapsed time.
        "avg_concurrency": busy / seconds if seconds else None,
        "peak_tps": peak_tps[0][1] / step if peak_tps else None,
        "peak_tps_at": peak_tps[0][0] if peak_tps else None,
        "peak_concurrency": peak_conc[0][1] / step if peak_conc else None,
        "peak_concurrency_at": peak_conc[0][0] if peak_conc else None,
    }


def throughput_heatmap(
    org: OrgRef, app: AppRef, weeks: int = 4, txn_type: str = "web", now: datetime | None = None
) -> dict[str, Any] | None:
    """Average transactions per minute by (weekday Monday=0, hour) over the last ``weeks``.

    Each cell averages over every occurrence of that hour in the window since the app's
    first data, counting hours without data as zero traffic.
    """
    now = now or datetime.now(UTC)
    end = now.replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(weeks=weeks)
    rows = _rows(
        """SELECT time, count FROM apm_apphour
           WHERE organization_id = %s AND app_id = %s AND txn_type = %s AND time >= %s AND time < %s""",
        [org_id(org), app_id(app), txn_type, start, end],
    )
    if not rows:
        return None
    first = min(t for t, _ in rows)
    sums: dict[tuple[int, int], int] = defaultdict(int)
    for t, count in rows:
        t = t.astimezone(UTC)
        sums[(t.weekday(), t.hour)] += count
    occurrences: dict[tuple[int, int], int] = defaultdict(int)
    hour = first.astimezone(UTC)
    while hour < end:
        occurrences[(hour.weekday(), hour.hour)] += 1
        hour += timedelta(hours=1)
    grid: list[list[float | None]] = [[None] * 24 for _ in range(7)]
    for (day, h), n in occurrences.items():
        grid[day][h] = sums[(day, h)] / n / 60.0
    return {"start": first, "end": end, "grid": grid}


def cpu_per_tps(org: OrgRef, app: AppRef, since: datetime, until: datetime) -> dict[str, Any]:
    """CPU % of one instance per transaction/second it serves, and the busiest per-instance TPS.

    Per minute (per hour past a day, from hour rollups and instance hours): the app's
    transactions (all types: they all burn CPU) against the summed CPU of the processes that
    reported. A ratio of sums, so busy periods weigh most.
    """
    if until - since <= timedelta(hours=25):
        step, table, inst = 60, "apm_appminute", "SUM(cpu_percent) AS cpu, COUNT(*) AS samples FROM apm_instanceminute"
    else:
        step, table, inst = 3600, "apm_apphour", "SUM(cpu_sum) AS cpu, SUM(samples) AS samples FROM apm_instancehour"
    rows = _rows(
        f"""WITH inst AS (
               SELECT time AS b, {inst}
               WHERE organization_id = %s AND app_id = %s AND time >= %s AND time < %s GROUP BY time),
           tr AS (
               SELECT time AS b, SUM(count)::float8 AS c FROM {table}
               WHERE organization_id = %s AND app_id = %s AND time >= %s AND time < %s GROUP BY time)
           SELECT SUM(inst.cpu) / (%s / 60), SUM(tr.c) / %s,
                  MAX(tr.c / %s / (inst.samples / (%s / 60))), MAX(inst.samples / (%s / 60))
           FROM inst JOIN tr USING (b) WHERE tr.c > 0""",
        [org_id(org), app_id(app), since, until] * 2 + [float(step)] * 5,
    )
    cpu, tps, peak_per_instance, max_instances = rows[0]
    return {
        "cpu_per_tps": cpu / tps if cpu and tps else None,
        "peak_tps_per_instance": peak_per_instance,
        "max_instances": round(max_instances) if max_instances else None,
    }
