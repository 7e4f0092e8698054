"""Instance samples of a batch: CPU, memory and agent metadata per process and minute."""

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
        "threads, started_at, agent_version, runtime_version, framework, dropped) SELECT * FROM unnest("
        "%b::bigint[], %b::uuid[], %b::text[], %b::int[], %b::timestamptz[], %b::float8[], %b::bigint[], "
        "%b::int[], %b::timestamptz[], %b::text[], %b::text[], %b::text[], %b::jsonb[]) "
        "ON CONFLICT (app_id, host, pid, time) DO UPDATE SET cpu_percent = EXCLUDED.cpu_percent, "
        "memory_bytes = EXCLUDED.memory_bytes, threads = EXCLUDED.threads, started_at = EXCLUDED.started_at, "
        "agent_version = EXCLUDED.agent_version, runtime_version = EXCLUDED.runtime_version, "
        "framework = EXCLUDED.framework, dropped = EXCLUDED.dropped",
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
        ],
    )
