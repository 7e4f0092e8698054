"""Instance samples of a batch: CPU, memory, runtime metrics and agent metadata per process
and minute."""

import datetime as dt

import msgspec

from apm.rollup.times import UTC, minute_dt

def write_instances(cur, todo):
    """One instance row per (app, host, pid, minute): the newest sample of the payloads ``todo``."""
    latest = {}
    for q, p in todo:
        i = p.instance
        if i is None:
            continue
        key = (q.app_id, i.host[:255], i.pid, int(i.time // 60) * 60)
        if key not in latest or latest[key][1].time <= i.time:
            latest[key] = (q.org_id, i)
    if not latest:
        return
    keys = sorted(latest)
    rows = [latest[k] for k in keys]
    cur.execute(
        "INSERT INTO apm_instanceminute AS r (organization_id, app_id, host, pid, time, cpu_percent, memory_bytes, "
        "threads, started_at, agent_version, runtime_version, framework, dropped, gc_percent, loop_lag, "
        "db_connections, db_pools, gc_per_minute) SELECT * FROM unnest("
        "%b::bigint[], %b::uuid[], %b::text[], %b::int[], %b::timestamptz[], %b::float8[], %b::bigint[], "
        "%b::int[], %b::timestamptz[], %b::text[], %b::text[], %b::text[], %b::jsonb[], %b::float8[], "
        "%b::float8[], %b::int[], %b::jsonb[], %b::jsonb[]) "
        "ON CONFLICT (app_id, host, pid, time) DO UPDATE SET cpu_percent = EXCLUDED.cpu_percent, "
        "memory_bytes = EXCLUDED.memory_bytes, threads = EXCLUDED.threads, started_at = EXCLUDED.started_at, "
        "agent_version = EXCLUDED.agent_version, runtime_version = EXCLUDED.runtime_version, "
        "framework = EXCLUDED.framework, dropped = EXCLUDED.dropped, gc_percent = EXCLUDED.gc_percent, "
        "loop_lag = EXCLUDED.loop_lag, db_connections = EXCLUDED.db_connections, db_pools = EXCLUDED.db_pools, "
        "gc_per_minute = EXCLUDED.gc_per_minute",
        [
            [o for o, _ in rows],
            [k[0] for k in keys],
            [k[1] for k in keys],
            [k[2] for k in keys],
            [minute_dt(k[3]) for k in keys],
            [i.cpu_percent for _, i in rows],
            [i.memory_bytes for _, i in rows],
            [i.threads for _, i in rows],
            [dt.datetime.fromtimestamp(i.started_at, UTC) for _, i in rows],
            [i.agent_version[:64] for _, i in rows],
            [i.runtime_version[:64] for _, i in rows],
            [(i.framework or "")[:128] for _, i in rows],
            [msgspec.json.encode(i.dropped).decode() for _, i in rows],
            [_gc_percent(i) for _, i in rows],
            [i.loop_lag for _, i in rows],
            [None if i.db_pools is None else sum(d["open"] for d in i.db_pools) for _, i in rows],
            [None if i.db_pools is None else msgspec.json.encode(i.db_pools).decode() for _, i in rows],
            [_gc_per_minute(i) for _, i in rows],
        ],
    )


def _gc_percent(i):
    """Share of the sample's period spent collecting garbage, in percent (like cpu_percent)."""
    if i.gc_time is None or i.period <= 0:
        return None
    return min(100.0, i.gc_time / i.period * 100.0)


def _gc_per_minute(i):
    """Collections per generation as rates per minute: periods differ between harvests."""
    if i.gc_collections is None or i.period <= 0:
        return None
    return msgspec.json.encode([round(c * 60.0 / i.period, 3) for c in i.gc_collections]).decode()
