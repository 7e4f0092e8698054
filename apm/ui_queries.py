"""Read queries of the web UI beyond apm/queries.py: capacity, per-instance shares, error
sparklines, cross-service traces, and the pages' metric series and rankings with their
sketch work cached (see "metrics for the pages" below).

Every function takes the organisation explicitly and filters by it (and by an app of
it) in SQL; callers pass objects they already fetched through the organisation.
Durations come back in seconds unless a name says otherwise.
"""

import hashlib
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.core.cache import cache
from django.db import connection

from apm import queries
from apm.models import AppDay, AppHour, AppMinute, InstanceMinute, Trace
from apm.sketches import DDSketch, decode, merge_into, quantiles

MINUTE_RETENTION = timedelta(days=8)
# Redis also carries the ingest queue: cached sketches expire, the many minute ones sooner.
QUANTILE_CACHE_SECONDS = 6 * 3600  # three numbers per row
APP_QUANTILE_CACHE_SECONDS = 26 * 3600  # those of app rows, warmed every minute: a day's charts
SKETCH_CACHE_SECONDS = 3600  # decoded bins of minute rows
COARSE_CACHE_SECONDS = 6 * 3600  # decoded bins of hour and day rows, merges of closed buckets
CLOSED_AFTER = 300  # seconds after its end a bucket is taken as complete (only for reuse)


def _rows(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def has_data(org, app):
    """Whether any rollup of the app exists (to tell "never reported" from "quiet lately")."""
    return any(
        model.objects.for_org(org).filter(app=app).exists() for model in (AppMinute, AppHour, AppDay)
    )


def peak_and_concurrency(org, app, since, until, txn_type="web"):
    """Throughput and Little's-law concurrency over [since, until).

    Peaks come from minute rows while the range is within minute retention, else from
    hour rows (then a peak is an hourly average, said by ``resolution``).
    """
    minutes = until - since <= MINUTE_RETENTION
    table, step = ("apm_appminute", 60) if minutes else ("apm_apphour", 3600)
    base = f"FROM {table} WHERE organization_id = %s AND app_id = %s AND txn_type = %s AND time >= %s AND time < %s"
    params = [org.id, app.id, txn_type, since, until]
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


def throughput_heatmap(org, app, weeks=4, txn_type="web", now=None):
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
        [org.id, app.id, txn_type, start, end],
    )
    if not rows:
        return None
    first = min(t for t, _ in rows)
    sums = defaultdict(int)
    for t, count in rows:
        t = t.astimezone(UTC)
        sums[(t.weekday(), t.hour)] += count
    occurrences = defaultdict(int)
    hour = first.astimezone(UTC)
    while hour < end:
        occurrences[(hour.weekday(), hour.hour)] += 1
        hour += timedelta(hours=1)
    grid = [[None] * 24 for _ in range(7)]
    for (day, h), n in occurrences.items():
        grid[day][h] = sums[(day, h)] / n / 60.0
    return {"start": first, "end": end, "grid": grid}


def cpu_per_tps(org, app, since, until):
    """CPU % of one instance per transaction/second it serves, and the busiest per-instance TPS.

    Per minute (per hour past a day, from hour rollups): the app's transactions (all types:
    they all burn CPU) against the summed CPU of the processes that reported. A ratio of
    sums, so busy periods weigh most.
    """
    if until - since <= timedelta(hours=25):
        step, bucket, table = 60, "time", "apm_appminute"
    else:
        step, bucket, table = 3600, "date_trunc('hour', time)", "apm_apphour"
    rows = _rows(
        f"""WITH inst AS (
               SELECT {bucket} AS b, SUM(cpu_percent) AS cpu, COUNT(*) AS samples FROM apm_instanceminute
               WHERE organization_id = %s AND app_id = %s AND time >= %s AND time < %s GROUP BY b),
           tr AS (
               SELECT time AS b, SUM(count)::float8 AS c FROM {table}
               WHERE organization_id = %s AND app_id = %s AND time >= %s AND time < %s GROUP BY time)
           SELECT SUM(inst.cpu) / (%s / 60), SUM(tr.c) / %s,
                  MAX(tr.c / %s / (inst.samples / (%s / 60))), MAX(inst.samples / (%s / 60))
           FROM inst JOIN tr USING (b) WHERE tr.c > 0""",
        [org.id, app.id, since, until] * 2 + [float(step)] * 5,
    )
    cpu, tps, peak_per_instance, max_instances = rows[0]
    return {
        "cpu_per_tps": cpu / tps if cpu and tps else None,
        "peak_tps_per_instance": peak_per_instance,
        "max_instances": round(max_instances) if max_instances else None,
    }


def instances_overview(org, app, since, until, step):
    """Processes (host, pid) that reported in [since, until): a table row each, and their CPU
    and memory averaged into ``step``-second buckets for the charts.

    The agent reports throughput per app, not per process, so each process is credited
    with the app's transactions of a bucket in proportion to the minutes it reported in
    that bucket: exact for a load-balanced pool, an estimate otherwise (the page says so).
    One aggregate over the instance samples (whole past buckets cached), one over the
    app's rollups, and one index lookup per process for its latest sample.
    """
    bucket = "(floor(extract(epoch FROM time) / %s) * %s)::bigint"
    rows = _instance_buckets(org, app, since, until, step)
    if not rows:
        return [], {}
    # The app's traffic per bucket, from minute rows while retained, else hour rows.
    table = "apm_appminute" if until - since <= MINUTE_RETENTION and step % 3600 else "apm_apphour"
    traffic = {
        b: (c, s)
        for b, c, s in _rows(
            f"""SELECT {bucket} AS b, SUM(count)::float8, SUM(sum) FROM {table}
                WHERE organization_id = %s AND app_id = %s AND time >= %s AND time < %s GROUP BY b""",
            [step, step, org.id, app.id, since, until],
        )
    }
    reported = defaultdict(int)  # bucket -> process-minutes
    for _, _, b, _, _, _, minutes, _ in rows:
        reported[b] += minutes
    procs = {}
    series = defaultdict(dict)
    for host, pid, b, cpu_avg, cpu_max, mem_avg, minutes, last in rows:
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
        series[(host, pid)][b] = (cpu_avg, mem_avg)
    out = []
    for p in sorted(procs.values(), key=lambda p: (-p["last_seen"].timestamp(), p["host"], p["pid"])):
        sample = (
            InstanceMinute.objects.for_org(org)
            .filter(app=app, host=p["host"], pid=p["pid"], time__lte=p["last_seen"])
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
                "last_seen": p["last_seen"],
                "rpm": p["share_count"] / p["minutes"],
                "avg_response_s": p["share_busy"] / p["share_count"] if p["share_count"] else None,
                "sample": sample,
            }
        )
    return out, series


INSTANCE_BUCKET_SQL = """SELECT host, pid, (floor(extract(epoch FROM time) / %s) * %s)::bigint AS b,
        AVG(cpu_percent), MAX(cpu_percent), AVG(memory_bytes)::float8, COUNT(*), MAX(time)
    FROM apm_instanceminute
    WHERE organization_id = %s AND app_id = %s AND ({ranges}) GROUP BY host, pid, b"""


def _instance_buckets(org, app, since, until, step, now=None):
    """(host, pid, bucket, cpu avg, cpu max, memory avg, samples, last time) rows.

    Buckets wholly inside the range and over for a few minutes no longer change: each is
    cached, and only the edges (or, on a miss, the whole range) are read from the samples.
    """
    now = now or time.time()
    start, end = since.timestamp(), until.timestamp()
    first = int(-(-start // step) * step)
    closed = [b for b in range(first, int(end), step) if b + step <= min(end, now - CLOSED_AFTER)]
    keys = {b: f"apm:inst:{app.id}:{step}:{b}" for b in closed}
    found = cache.get_many(list(keys.values())) if closed else {}
    if closed and len(found) == len(closed):
        spans = [(start, first), (closed[-1] + step, end)]
        cached_rows = [row for b in closed for row in found[keys[b]]]
    else:
        spans, cached_rows = [(start, end)], []
    spans = [(a, b) for a, b in spans if b > a]
    rows = []
    if spans:
        ranges = " OR ".join(["(time >= %s AND time < %s)"] * len(spans))
        params = [step, step, org.id, app.id] + [queries.to_dt(t) for span in spans for t in span]
        rows = _rows(INSTANCE_BUCKET_SQL.format(ranges=ranges), params)
    if not cached_rows and closed:
        per_bucket = {b: [] for b in closed}
        for row in rows:
            if row[2] in per_bucket:
                per_bucket[row[2]].append(row)
        cache.set_many({keys[b]: v for b, v in per_bucket.items()}, COARSE_CACHE_SECONDS)
    return sorted(cached_rows + rows, key=lambda r: r[2])


def error_counts(org, app, group_ids, since, until, step):
    """{group id: {bucket start: count}} for the given groups, bucketed by ``step`` seconds."""
    if not group_ids:
        return {}
    rows = _rows(
        """SELECT group_id, floor(extract(epoch FROM time) / %s)::bigint * %s AS bucket, SUM(count)::bigint
           FROM apm_errorminute
           WHERE organization_id = %s AND app_id = %s AND group_id = ANY(%s) AND time >= %s AND time < %s
           GROUP BY group_id, bucket""",
        [step, step, org.id, app.id, list(group_ids), since, until],
    )
    out = defaultdict(dict)
    for group_id, bucket, count in rows:
        out[group_id][bucket] = count
    return out


def affected_transactions(org, group_ids):
    """{group id: sorted transaction names seen in its kept samples}."""
    rows = _rows(
        """SELECT DISTINCT group_id, transaction_name FROM apm_errorsample
           WHERE organization_id = %s AND group_id = ANY(%s) AND transaction_name <> ''""",
        [org.id, list(group_ids)],
    )
    out = defaultdict(list)
    for group_id, name in rows:
        out[group_id].append(name)
    return {k: sorted(v) for k, v in out.items()}


def traces_sharing_id(org, trace_id, exclude_app=None):
    """Traces of other services (apps) of the organisation with the same W3C trace id, by start."""
    qs = Trace.objects.for_org(org).filter(trace_id=trace_id).select_related("app", "transaction").order_by("start")
    if exclude_app is not None:
        qs = qs.exclude(app=exclude_app)
    return list(
        qs.only(
            "id", "trace_id", "start", "duration", "parent_span_id", "app__id", "app__name", "transaction__name",
            "transaction__id",
        )[:50]
    )


# --- metrics for the pages, with the sketch work cached ---------------------------------
#
# Decoding DDSketches in Python is the cost of percentile queries (tens to hundreds of
# microseconds each, plus fetching the bytes). A rollup row's sketch only changes when its
# count does, so the work is cached in Redis under keys made of (table, row id, count): a
# late payload that adds to a row changes its count and so its key. Rows are read without
# their sketches; the bytes are fetched only for what the cache misses. The merge of a
# range's closed buckets is cached whole, keyed by a digest of the rows it merges, so a
# refresh a minute later only merges the newest rows. Range totals use the coarsest rows
# that fit (days, then hours, then the minutes at the edges).

_LEVEL = {60: "m", 3600: "h", 86400: "d"}
_COLUMNS = queries._ROW_COLUMNS


class Row(NamedTuple):
    """A rollup row, without its sketch: which table, which row, its count and bucket start."""

    kind: str  # "t": per transaction, "a": per app
    step: int
    id: int
    count: int
    time: int


def _row_key(prefix, r):
    return f"apm:{prefix}:{r.kind}{_LEVEL[r.step]}:{r.id}:{r.count}"


def _fetch_sketches(org, rows):
    """{(kind, step, id): bytes} of the rows' sketches, one query per table."""
    tables = defaultdict(list)
    for r in rows:
        tables[(r.kind, r.step)].append(r)
    out = {}
    for (kind, step), group in tables.items():
        table = queries.TABLES[step][0 if kind == "t" else 1]
        for row_id, blob in _rows(
            f"SELECT id, sketch FROM {table} WHERE organization_id = %s AND id = ANY(%s) AND time >= %s AND time <= %s",
            [
                org.id,
                [r.id for r in group],
                queries.to_dt(min(r.time for r in group)),
                queries.to_dt(max(r.time for r in group)),
            ],
        ):
            out[(kind, step, row_id)] = bytes(blob)
    return out


def _per_row(prefix, org, rows, compute, lifetime):
    """[compute(decoded sketch or None) for each row], cached per row for lifetime(row) seconds."""
    keys = [_row_key(prefix, r) for r in rows]
    found = cache.get_many(keys)
    missing = [r for r, k in zip(rows, keys) if k not in found]
    if missing:
        blobs = _fetch_sketches(org, missing)
        fresh = defaultdict(dict)
        for r in missing:
            blob = blobs.get((r.kind, r.step, r.id))
            fresh[lifetime(r)][_row_key(prefix, r)] = compute(decode(blob) if blob else None)
        for seconds, values in fresh.items():
            cache.set_many(values, seconds)
            found.update(values)
    return [found[k] for k in keys]


def row_quantiles(org, rows):
    """[(p50, p95, p99) seconds] of each row."""
    return _per_row(
        "q",
        org,
        rows,
        lambda s: tuple(quantiles(s)) if s else (None, None, None),
        lambda r: APP_QUANTILE_CACHE_SECONDS if r.kind == "a" else QUANTILE_CACHE_SECONDS,
    )


def decoded_sketches(org, rows):
    """[(zero count, bins dict)] of each row."""
    return _per_row(
        "sk",
        org,
        rows,
        lambda s: (s.zero_count, s.bins) if s else (0, {}),
        lambda r: SKETCH_CACHE_SECONDS if r.step == 60 else COARSE_CACHE_SECONDS,
    )


def merged(parts):
    """One DDSketch from (zero count, bins) parts; None when empty."""
    out = DDSketch()
    for zero, bins in parts:
        if bins or zero:
            other = DDSketch()
            other.bins, other.zero_count, other.count = bins, zero, zero + sum(bins.values())
            merge_into(out, other)
    return out if out.count else None


def _as_part(sketch):
    return (sketch.zero_count, sketch.bins) if sketch else (0, {})


def _digest(prefix, rows):
    return f"apm:{prefix}:" + hashlib.sha1(repr(sorted((r.kind, r.step, r.id, r.count) for r in rows)).encode()).hexdigest()


def _is_closed(r, now):
    return r.time + r.step <= now - CLOSED_AFTER


def series_quantiles(org, rows, now=None):
    """row_quantiles of a series' rows; those of its closed buckets cached as one entry."""
    now = now or time.time()
    closed = [r for r in rows if _is_closed(r, now)]
    key = _digest("sq", closed)
    found = cache.get(key)
    if found is None:
        found = dict(zip(closed, row_quantiles(org, closed)))
        cache.set(key, found, QUANTILE_CACHE_SECONDS)
    fresh = [r for r in rows if r not in found]
    found.update(zip(fresh, row_quantiles(org, fresh)))
    return [found[r] for r in rows]


def merged_quantiles(org, groups, now=None):
    """{group: [Row]} -> {group: (p50, p95, p99) seconds} of the merge of each group's rows."""
    now = now or time.time()
    closed = {g: [r for r in rows if _is_closed(r, now)] for g, rows in groups.items()}
    keys = {g: _digest("mg", rows) for g, rows in closed.items() if rows}
    found = cache.get_many(list(keys.values()))
    todo = [r for g, k in keys.items() if k not in found for r in closed[g]]
    fresh = {}
    if todo:
        decoded = dict(zip(todo, decoded_sketches(org, todo)))
        for g, k in keys.items():
            if k not in found:
                fresh[k] = _as_part(merged(decoded[r] for r in closed[g]))
        cache.set_many(fresh, COARSE_CACHE_SECONDS)
        found.update(fresh)
    open_rows = {g: [r for r in rows if not _is_closed(r, now)] for g, rows in groups.items()}
    flat = [r for rows in open_rows.values() for r in rows]
    decoded_open = dict(zip(flat, decoded_sketches(org, flat))) if flat else {}
    out = {}
    for g in groups:
        parts = [found[keys[g]]] if g in keys else []
        parts += [decoded_open[r] for r in open_rows[g]]
        sketch = merged(parts)
        out[g] = tuple(quantiles(sketch)) if sketch else (None, None, None)
    return out


def _with_quantiles(stats, q):
    p50, p95, p99 = q if stats["count"] else (None, None, None)
    stats.update(p50_ms=queries._ms(p50), p95_ms=queries._ms(p95), p99_ms=queries._ms(p99))
    return stats


def _tiers(start, end, finest):
    """[(step, start, end)] covering [start, end) (aligned to ``finest``) with the coarsest rows.

    Whole days use day rows, whole hours hour rows, and only the edges finer rows.
    """
    for step in (86400, 3600):
        if step <= finest:
            continue
        first = -(-start // step) * step
        last = end // step * step
        if last - first >= step:
            return (
                (_tiers(start, first, finest) if first > start else [])
                + [(step, first, last)]
                + (_tiers(last, end, finest) if end > last else [])
            )
    return [(finest, start, end)] if end > start else []


def _rollups(org, app, step, start, end, transaction=None, txn_type="web"):
    """(id, time, 12 stats) rows of an app (or one transaction) at one resolution, by time."""
    txn_table, app_table = queries.TABLES[step]
    head = f"SELECT id, extract(epoch FROM time)::bigint, {_COLUMNS} FROM"
    common = "organization_id = %s AND app_id = %s AND time >= %s AND time < %s"
    params = [org.id, app.id, queries.to_dt(start), queries.to_dt(end)]
    if transaction is not None:
        return _rows(f"{head} {txn_table} WHERE {common} AND transaction_id = %s ORDER BY time", params + [int(transaction)])
    return _rows(f"{head} {app_table} WHERE {common} AND txn_type = %s ORDER BY time", params + [txn_type])


def series(org, app, since, until, transaction=None, txn_type="web"):
    """The body of ``queries.timeseries`` (same shape and rules), with cached sketch work."""
    since, until = queries.to_unix(since), queries.to_unix(until)
    step = queries.series_resolution(until - since)
    start, end = queries._align(since, until, step)
    kind = "t" if transaction is not None else "a"
    rows = _rollups(org, app, step, start, end, transaction, txn_type)
    keyed = [Row(kind, step, r[0], r[2], r[1]) for r in rows]
    total = queries.Acc()
    by_time = {}
    for row, quant in zip(rows, series_quantiles(org, keyed)):
        total.add_row(*row[2:14])
        acc = queries.Acc()
        acc.add_row(*row[2:14])
        by_time[row[1]] = _with_quantiles(acc.stats(step / 60.0), quant)
    empty = queries.Acc().stats(step / 60.0)
    points = [{"t": t, **by_time.get(t, empty)} for t in range(start, end, step)]

    # Totals: coarser rows for the inside of the range, the series' own rows at the edges.
    merge = []
    for tier_step, a, b in _tiers(start, end, step):
        if tier_step == step:
            merge += [r for r in keyed if a <= r.time < b]
        else:
            merge += [Row(kind, tier_step, r[0], r[2], r[1]) for r in _rollups(org, app, tier_step, a, b, transaction, txn_type)]
    totals = _with_quantiles(total.stats((end - start) / 60.0), merged_quantiles(org, {"all": merge})["all"])
    return {"from": start, "to": end, "resolution": step, "points": points, "totals": totals}


def transaction_table(org, app, since, until, txn_type="web", sort="time", limit=50, q=None, percentiles=True):
    """``queries.transactions`` over the coarsest rows that fit, percentiles from cached merges.

    Ranges over three hours are read hour-aligned (they start at the top of their first
    hour) so that whole hour and day rows can be used; shorter ones are exact to the minute.
    """
    since, until = queries.to_unix(since), queries.to_unix(until)
    finest = 60 if until - since <= 3 * 3600 else 3600
    start, end = queries._align(since, until, finest)
    name_filter, extra = "", []
    if q:
        name_filter = " AND t.name ILIKE %s"
        extra = ["%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"]
    accs, names, groups = {}, {}, defaultdict(list)
    for step, a, b in _tiers(start, end, finest):
        table = queries.TABLES[step][0]
        rows = _rows(
            f"SELECT r.transaction_id, t.name, t.type, r.id, extract(epoch FROM r.time)::bigint, "
            f"r.{_COLUMNS.replace(', ', ', r.')} FROM {table} r JOIN apm_transaction t ON t.id = r.transaction_id "
            "WHERE r.organization_id = %s AND r.app_id = %s AND t.type = %s AND r.time >= %s AND r.time < %s"
            + name_filter,
            [org.id, app.id, txn_type, queries.to_dt(a), queries.to_dt(b), *extra],
        )
        for row in rows:
            tid = row[0]
            acc = accs.get(tid)
            if acc is None:
                acc = accs[tid] = queries.Acc()
                names[tid] = (row[1], row[2])
            acc.add_row(*row[5:17])
            groups[tid].append(Row("t", step, row[3], row[5], row[4]))
    quants = merged_quantiles(org, groups) if percentiles and groups else {}
    minutes = max((end - start) / 60.0, 1.0)
    total_time = sum(a.sum for a in accs.values()) or 0.0
    out = []
    for tid, acc in accs.items():
        stats = acc.stats(minutes)
        if percentiles:
            _with_quantiles(stats, quants[tid])
        out.append(
            {
                "id": tid,
                "name": names[tid][0],
                "type": names[tid][1],
                "total_time_s": acc.sum,
                "time_share": acc.sum / total_time if total_time else 0.0,
                **stats,
            }
        )
    key = TABLE_SORTS.get(sort, TABLE_SORTS["time"])
    out.sort(key=lambda r: (key(r), r["count"]), reverse=True)
    return {"from": start, "to": end, "sort": sort, "transactions": out[:limit]}


# The table's columns; unlike the API's ``errors`` (a count), the page ranks by error rate.
TABLE_SORTS = {**queries.SORTS, "errors": lambda r: r["error_rate"] or 0.0}


def app_summaries(org, minutes=5, now=None):
    """``queries.app_summaries`` (same shape), with "last seen" found by index lookups.

    The latest minute of each app and type is one backward index scan, instead of
    aggregating every minute row of the retention window.
    """
    from tenants.models import App

    now = now or time.time()
    end = int(now // 60) * 60 + 60
    spark_start = end - 3600
    window_start = end - 60 * minutes
    apps = list(App.objects.for_org(org).order_by("name"))
    rows = _rows(
        f"SELECT app_id, extract(epoch FROM time)::bigint, {_COLUMNS}, id FROM apm_appminute "
        "WHERE organization_id = %s AND txn_type = 'web' AND time >= %s AND time < %s",
        [org.id, queries.to_dt(spark_start), queries.to_dt(end)],
    )
    latest = "(SELECT m.time FROM apm_appminute m WHERE m.app_id = a.id AND m.txn_type = %s AND m.time >= %s ORDER BY m.time DESC LIMIT 1)"
    since = queries.to_dt(now - settings.RETENTION_MINUTE_DAYS * 86400)
    last = {
        app_id: seen
        for app_id, seen in _rows(
            f"SELECT a.id, extract(epoch FROM GREATEST({latest}, {latest})) FROM tenants_app a WHERE a.organization_id = %s",
            ["web", since, "background", since, org.id],
        )
    }
    per_app = defaultdict(list)
    for row in rows:
        per_app[row[0]].append(row)
    window = [r for r in rows if r[1] >= window_start]
    sketches = dict(zip([r[-1] for r in window], decoded_sketches(org, [Row("a", 60, r[-1], r[2], r[1]) for r in window])))
    out = []
    for app in apps:
        acc = queries.Acc()
        spark = [0.0] * 60
        parts = []
        for row in per_app.get(app.pk, []):
            spark[(row[1] - spark_start) // 60] += row[2]
            if row[1] >= window_start:
                acc.add_row(*row[2:14])
                parts.append(sketches[row[-1]])
        stats = acc.stats(float(minutes))
        sketch = merged(parts)
        _with_quantiles(stats, quantiles(sketch) if sketch else (None, None, None))
        seen = last.get(app.pk)
        out.append(
            {
                "id": str(app.pk),
                "name": app.name,
                "apdex_t": app.apdex_t,
                "status": queries.status_of(stats),
                "last_seen": float(seen) if seen is not None else None,
                "summary": stats,
                "sparkline": {"start": spark_start, "step": 60, "rpm": spark},
            }
        )
    return out


def warm_app_quantiles(since, until):
    """Compute (and cache) the quantiles of every app's minute rows in [since, until), for
    every organisation: run each minute on the minutes that just closed, so that app charts
    over the last day never decode a sketch on a page view. Returns the rows warmed."""
    from tenants.models import Organization

    rows = _rows(
        "SELECT organization_id, id, count, extract(epoch FROM time)::bigint FROM apm_appminute "
        "WHERE time >= %s AND time < %s",
        [queries.to_dt(since), queries.to_dt(until)],
    )
    per_org = defaultdict(list)
    for org_id, row_id, count, t in rows:
        per_org[org_id].append(Row("a", 60, row_id, count, t))
    for org_id, org_rows in per_org.items():
        # Cross-tenant fan-out on purpose: each organisation's rows are fetched by its id.
        row_quantiles(Organization(id=org_id), org_rows)
    return len(rows)
