"""Minute rows → hour rows → day rows, recomputed whole (so running twice changes nothing).

A coarser row is replaced by the merge of all its finer rows: sums added, min/max
kept, sketches merged in Python. Instance samples get hour rows too (sums and peaks,
and the newest sample), computed in SQL alone. The ingest workers mark the hours they
applied data to (apm/stale_hours.py); every minute beat recomputes the marked hours of
each organisation and removes their marks in the same transaction.
"""

import datetime as dt

from django.db import connection, transaction

from apm import stale_hours
from apm.sketches import DDSketch, decode, encode_stored, merge_into

UTC = dt.timezone.utc


_SUMS = (
    "sum(count), sum(errors), sum(sum), min(min), max(max), sum(apdex_s), sum(apdex_t), sum(apdex_f), "
    "sum(seg_python), sum(seg_database), sum(seg_external), sum(seg_template)"
)
_COLUMNS = (
    "count, errors, sum, min, max, apdex_s, apdex_t, apdex_f, seg_python, seg_database, seg_external, seg_template"
)
_REPLACE = ", ".join(f"{c} = EXCLUDED.{c}" for c in _COLUMNS.split(", ")) + ", sketch = EXCLUDED.sketch"

# (source, target, key column, bucket) for each step
STEPS = {
    "hour": [
        ("apm_transactionminute", "apm_transactionhour", "transaction_id", "hour"),
        ("apm_appminute", "apm_apphour", "txn_type", "hour"),
    ],
    "day": [
        ("apm_transactionhour", "apm_transactionday", "transaction_id", "day"),
        ("apm_apphour", "apm_appday", "txn_type", "day"),
    ],
}


def _merge(blobs):
    out = DDSketch()
    for b in blobs:
        if b:
            merge_into(out, decode(bytes(b)))
    return encode_stored(out) if out.count else b""


def _rebuild(cur, org_id, source, target, key_col, unit, start, end):
    """Replace ``target`` rows of [start, end) for one organisation with merges of ``source``."""
    cur.execute(
        f"SELECT app_id, {key_col}, date_trunc('{unit}', time) AS b, {_SUMS}, array_agg(sketch) "
        f"FROM {source} WHERE organization_id = %s AND time >= %s AND time < %s "
        f"GROUP BY app_id, {key_col}, b ORDER BY app_id, {key_col}, b",
        [org_id, start, end],
    )
    rows = cur.fetchall()
    if not rows:
        return 0
    key_cast = "bigint" if key_col == "transaction_id" else "text"
    conflict = "(transaction_id, time)" if key_col == "transaction_id" else "(app_id, txn_type, time)"
    cols = [list(c) for c in zip(*[r[:15] for r in rows])]
    sketches = [_merge(r[15]) for r in rows]
    cur.execute(
        f"INSERT INTO {target} (organization_id, app_id, {key_col}, time, {_COLUMNS}, sketch) "
        f"SELECT %s, * FROM unnest(%s::uuid[], %s::{key_cast}[], %s::timestamptz[], %s::bigint[], %s::bigint[], "
        "%s::float8[], %s::float8[], %s::float8[], %s::bigint[], %s::bigint[], %s::bigint[], %s::float8[], "
        f"%s::float8[], %s::float8[], %s::float8[], %s::bytea[]) ON CONFLICT {conflict} DO UPDATE SET {_REPLACE}",
        [org_id, *cols, sketches],
    )
    return len(rows)


_INSTANCE_LAST = (
    "cpu_percent", "memory_bytes", "threads", "started_at", "agent_version", "runtime_version", "framework",
    "gc_per_minute", "db_pools",
)
_INSTANCE_COLUMNS = (
    "samples, cpu_sum, cpu_max, memory_sum, memory_max, last_time, gc_sum, gc_samples, loop_lag_max, "
    "db_connections_max, last_cpu_percent, last_memory_bytes, threads, started_at, agent_version, runtime_version, "
    "framework, gc_per_minute, db_pools"
)


def rebuild_instance_hours(cur, org_id, start, end):
    """Replace the instance hour rows of [start, end) for one organisation with sums of its minute samples."""
    newest = ", ".join(f"(array_agg({c} ORDER BY time DESC))[1]" for c in _INSTANCE_LAST)
    replace = ", ".join(f"{c} = EXCLUDED.{c}" for c in _INSTANCE_COLUMNS.split(", "))
    cur.execute(
        f"INSERT INTO apm_instancehour (organization_id, app_id, host, pid, time, {_INSTANCE_COLUMNS}) "
        "SELECT organization_id, app_id, host, pid, date_trunc('hour', time) AS b, count(*), sum(cpu_percent), "
        "max(cpu_percent), sum(memory_bytes), max(memory_bytes), max(time), sum(gc_percent), count(gc_percent), "
        f"max(loop_lag), max(db_connections), {newest} FROM apm_instanceminute "
        "WHERE organization_id = %s AND time >= %s AND time < %s GROUP BY organization_id, app_id, host, pid, b "
        f"ON CONFLICT (app_id, host, pid, time) DO UPDATE SET {replace}",
        [org_id, start, end],
    )
    return cur.rowcount


def downsample_stale(org_id, hours=()):
    """Recompute one organisation's marked hours (and ``hours``), then their days, and remove
    the marks in the same transaction: they go only once their rollups commit."""
    with transaction.atomic(), connection.cursor() as cur:
        marks = stale_hours.marked(cur, org_id)  # before the minutes are read
        written = _rebuild_hours_and_days(cur, org_id, {*hours, *marks})
        stale_hours.clear(cur, org_id, marks)
    return written


def downsample_hours(org_id, hours):
    """Recompute the hour rows of the given hour starts (unix seconds), then their day rows."""
    with transaction.atomic(), connection.cursor() as cur:
        return _rebuild_hours_and_days(cur, org_id, hours)


def _rebuild_hours_and_days(cur, org_id, hours):
    hours = sorted({int(h) // 3600 * 3600 for h in hours})
    days = sorted({h // 86400 * 86400 for h in hours})
    written = 0
    for h in hours:
        start = dt.datetime.fromtimestamp(h, UTC)
        for source, target, key_col, unit in STEPS["hour"]:
            written += _rebuild(cur, org_id, source, target, key_col, unit, start, start + dt.timedelta(hours=1))
        written += rebuild_instance_hours(cur, org_id, start, start + dt.timedelta(hours=1))
    for d in days:
        start = dt.datetime.fromtimestamp(d, UTC)
        for source, target, key_col, unit in STEPS["day"]:
            written += _rebuild(cur, org_id, source, target, key_col, unit, start, start + dt.timedelta(days=1))
    return written
