"""Agent processes (host, pid) of an app: CPU, memory and runtime series (GC time, event-loop
lag, database connections), latest samples, traffic shares.

Samples are kept per minute (apm_instanceminute) and summed per hour (apm_instancehour,
apm/downsample.py). A range is read like the other series: buckets of whole hours from
the hour rows, the ragged edges (and buckets under an hour) from the minute rows; the two
are summed in one SQL aggregate, so a long range costs hundreds of rows, not tens of thousands.
"""

import json
import time
from collections import defaultdict
from datetime import datetime
from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.core.cache import cache

from apm.models import InstanceMinute
from apm.queries.base import AppRef, Instant, OrgRef, app_id, org_id, range_plan, rows, series_resolution, to_dt, to_unix
from apm.queries.sketchcache import CLOSED_AFTER, COARSE_CACHE_SECONDS

# The same columns from both tables: per-minute samples are sums of one.
_SOURCES = {
    60: "SELECT host, pid, time, 1 AS samples, cpu_percent AS cpu_sum, cpu_percent AS cpu_max, "
    "memory_bytes AS memory_sum, memory_bytes AS memory_max, time AS last_time, cpu_percent AS last_cpu, "
    "memory_bytes AS last_memory, threads, started_at, agent_version, runtime_version, framework, "
    "gc_percent AS gc_sum, (gc_percent IS NOT NULL)::int AS gc_samples, loop_lag AS lag_max, "
    "db_connections AS db_max, gc_per_minute, db_pools FROM apm_instanceminute",
    3600: "SELECT host, pid, time, samples, cpu_sum, cpu_max, memory_sum, memory_max, last_time, "
    "last_cpu_percent AS last_cpu, last_memory_bytes AS last_memory, threads, started_at, agent_version, runtime_version, framework, "
    "gc_sum, gc_samples, loop_lag_max AS lag_max, db_connections_max AS db_max, gc_per_minute, db_pools "
    "FROM apm_instancehour",
}


def _samples(org: OrgRef, app: AppRef, spans: Iterable[tuple[float, float]], step: int) -> tuple[str, list[Any]]:
    """SQL and params of the rows (minute samples and hour sums, one column set) covering the
    [start, end) unix ``spans``; hour rows only when ``step`` is whole hours."""
    parts = defaultdict(list)
    for start, end in spans:
        for level, a, b in range_plan(start, end, 60, 3600 if step % 3600 == 0 else 60):
            # The plan is aligned to minutes; minute rows are read from the span's exact bounds.
            parts[level].append((max(a, start), min(b, end)) if level == 60 else (a, b))
    sql, params = [], []
    for level, ranges in parts.items():
        where = " OR ".join(["(time >= %s AND time < %s)"] * len(ranges))
        sql.append(f"{_SOURCES[level]} WHERE organization_id = %s AND app_id = %s AND ({where})")
        params += [org_id(org), app_id(app)] + [to_dt(t) for r in ranges for t in r]
    return " UNION ALL ".join(sql), params


# GC time averaged over the samples that had one; event-loop lag and connections at their peak.
RUNTIME_COLUMNS = (
    "(sum(gc_sum) / nullif(sum(gc_samples), 0))::float8, max(lag_max)::float8, max(db_max)::bigint"
)
PAGE_COLUMNS = (
    "(sum(cpu_sum) / sum(samples))::float8, max(cpu_max)::float8, (sum(memory_sum) / sum(samples))::float8, "
    f"max(memory_max)::bigint, sum(samples)::bigint, extract(epoch FROM max(last_time))::float8, {RUNTIME_COLUMNS}"
)
SERIES_COLUMNS = f"(sum(cpu_sum) / sum(samples))::float8, max(memory_max)::bigint, {RUNTIME_COLUMNS}"


def buckets(
    org: OrgRef, app: AppRef, spans: Sequence[tuple[float, float]], step: int, columns: str = PAGE_COLUMNS
) -> list[tuple]:
    """(host, pid, bucket start, *columns) rows of the processes, in ``step``-second buckets
    (aligned to the epoch) over the ``spans``. PAGE_COLUMNS: cpu avg, cpu max, memory avg,
    memory max, samples, last sample unix seconds; SERIES_COLUMNS: cpu avg, memory max; both
    end with RUNTIME_COLUMNS: gc time % avg, event-loop lag max, db connections max."""
    source, params = _samples(org, app, spans, step)
    if not source:
        return []
    return rows(
        f"SELECT host, pid, extract(epoch FROM time)::bigint / %s * %s AS b, {columns} FROM ({source}) s "
        "GROUP BY host, pid, b ORDER BY host, pid, b",
        [step, step, *params],
    )


def instances(org: OrgRef, app: AppRef, since: Instant, until: Instant) -> dict[str, Any]:
    """The ``instances`` response: processes that reported in the range, latest first, each
    with a CPU/memory/runtime series at the resolution series_resolution picks (average CPU
    and GC time, peak memory, event-loop lag and database connections of each bucket)."""
    since, until = to_unix(since), to_unix(until)
    step = series_resolution(until - since)
    spans = [(since // 60 * 60, until)]
    series = defaultdict(list)
    for host, pid, t, cpu, memory, gc_percent, loop_lag, db in buckets(org, app, spans, step, SERIES_COLUMNS):
        series[(host, pid)].append({
            "t": int(t), "cpu_percent": cpu, "memory_bytes": int(memory), "gc_percent": gc_percent,
            "loop_lag": loop_lag, "db_connections": None if db is None else int(db),
        })
    source, params = _samples(org, app, spans, step)
    latest = rows(
        "SELECT DISTINCT ON (host, pid) host, pid, extract(epoch FROM last_time)::bigint, last_cpu, last_memory, "
        "threads, extract(epoch FROM started_at), agent_version, runtime_version, framework, gc_per_minute, "
        f"db_pools FROM ({source}) s "
        "ORDER BY host, pid, last_time DESC",
        params,
    )
    out = [
        {
            "host": host,
            "pid": pid,
            "series": series[(host, pid)],
            "last_seen": t,
            "cpu_percent": cpu,
            "memory_bytes": mem,
            "threads": threads,
            "started_at": float(started) if started is not None else None,
            "agent_version": agent_v,
            "runtime_version": runtime_v,
            "framework": framework or None,
            "gc_per_minute": _from_json(gc_rates),
            "db_pools": _from_json(db_pools),
        }
        for host, pid, t, cpu, mem, threads, started, agent_v, runtime_v, framework, gc_rates, db_pools in latest
    ]
    out.sort(key=lambda p: (-p["last_seen"], p["host"], p["pid"]))
    return {"instances": out}


def _from_json(value: str | None) -> Any:
    """A jsonb column read by raw SQL (Django's connection leaves jsonb as text)."""
    return None if value is None else json.loads(value)


def instances_overview(
    org: OrgRef, app: AppRef, since: datetime, until: datetime, step: int
) -> tuple[list[dict[str, Any]], dict[tuple[str, int], dict[int, Any]]]:
    """Processes (host, pid) that reported in [since, until): a table row each, and their CPU
    and memory averaged into ``step``-second buckets for the charts.

    The agent reports throughput per app, not per process, so each process is credited
    with the app's transactions of a bucket in proportion to the minutes it reported in
    that bucket: exact for a load-balanced pool, an estimate otherwise (the page says so).
    One aggregate over the instance rows (whole past buckets cached), one over the
    app's rollups, and one index lookup per process for its latest sample.
    """
    bucket = "(floor(extract(epoch FROM time) / %s) * %s)::bigint"
    found = _cached_buckets(org, app, since, until, step)
    if not found:
        return [], {}
    # The app's traffic per bucket, from minute rows while retained, else hour rows.
    short = (until - since).total_seconds() <= settings.RETENTION_MINUTE_DAYS * 86400
    table = "apm_appminute" if short and step % 3600 else "apm_apphour"
    traffic = {
        b: (c, s)
        for b, c, s in rows(
            f"""SELECT {bucket} AS b, SUM(count)::float8, SUM(sum) FROM {table}
                WHERE organization_id = %s AND app_id = %s AND time >= %s AND time < %s GROUP BY b""",
            [step, step, org_id(org), app_id(app), since, until],
        )
    }
    reported: dict[int, int] = defaultdict(int)  # bucket -> process-minutes
    for row in found:
        reported[row[2]] += row[7]
    procs: dict[tuple[str, int], dict[str, Any]] = {}
    series: dict[tuple[str, int], dict[int, Any]] = defaultdict(dict)
    for host, pid, b, cpu_avg, cpu_max, mem_avg, _, minutes, last, gc_percent, loop_lag, db in found:
        p = procs.get((host, pid))
        if p is None:
            p = procs[(host, pid)] = {"host": host, "pid": pid, "minutes": 0, "cpu_sum": 0.0, "cpu_max": 0.0,
                                      "last_seen": last, "share_count": 0.0, "share_busy": 0.0}
        p["minutes"] += minutes
        p["cpu_sum"] += cpu_avg * minutes
        p["cpu_max"] = max(p["cpu_max"], cpu_max)
        p["last_seen"] = max(p["last_seen"], last)
        count, busy = traffic.get(b, (0.0, 0.0))
        p["share_count"] += count * minutes / reported[b]
        p["share_busy"] += busy * minutes / reported[b]
        series[(host, pid)][b] = (cpu_avg, mem_avg, gc_percent, loop_lag, db)
    out = []
    for p in sorted(procs.values(), key=lambda p: (-p["last_seen"], p["host"], p["pid"])):
        last_seen = to_dt(p["last_seen"])
        sample = (
            InstanceMinute.objects.for_org(org)
            .filter(app=app, host=p["host"], pid=p["pid"], time__lte=last_seen)
            .order_by("-time")
            .first()
        )
        out.append(
            {
                "host": p["host"],
                "pid": p["pid"],
                "minutes": p["minutes"],
                "cpu_avg": p["cpu_sum"] / p["minutes"],
                "cpu_max": p["cpu_max"],
                "memory_last": sample.memory_bytes if sample else None,
                "last_seen": last_seen,
                "rpm": p["share_count"] / p["minutes"],
                "avg_response_s": p["share_busy"] / p["share_count"] if p["share_count"] else None,
                "sample": sample,
            }
        )
    return out, series


def _cached_buckets(
    org: OrgRef, app: AppRef, since: datetime, until: datetime, step: int, now: float | None = None
) -> list[tuple]:
    """``buckets`` of [since, until) (datetimes), each whole bucket over for a few minutes cached
    (it no longer changes): only the edges, or on a miss the whole range, are read."""
    now = now or time.time()
    start, end = since.timestamp(), until.timestamp()
    first = int(-(-start // step) * step)
    closed = [b for b in range(first, int(end), step) if b + step <= min(end, now - CLOSED_AFTER)]
    # "instb2": rows gained the runtime columns; rows cached in the old shape are not read
    keys = {b: f"apm:instb2:{app_id(app)}:{step}:{b}" for b in closed}
    found = cache.get_many(list(keys.values())) if closed else {}
    if closed and len(found) == len(closed):
        spans = [(start, first), (closed[-1] + step, end)]
        cached_rows = [row for b in closed for row in found[keys[b]]]
    else:
        spans, cached_rows = [(start, end)], []
    fresh = buckets(org, app, [(a, b) for a, b in spans if b > a], step)
    if not cached_rows and closed:
        per_bucket: dict[int, list[tuple]] = {b: [] for b in closed}
        for row in fresh:
            if row[2] in per_bucket:
                per_bucket[row[2]].append(row)
        cache.set_many({keys[b]: v for b, v in per_bucket.items()}, COARSE_CACHE_SECONDS)
    return sorted(cached_rows + fresh, key=lambda r: r[2])
