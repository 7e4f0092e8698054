"""Ingest benchmark: the real server and real workers on this machine, end to end.

Starts uvicorn (production-like settings: DEBUG off, no access log) and a Celery worker
(prefork, each process running the stream consumer), as many processes of each as
``make run`` starts on this machine (half the cores, at least one), against a
dedicated database, then drives them with simulated agent processes (bench/loadgen.py)
posting realistic harvest payloads: 50 transaction names in ``metrics``, 200 sampled
``events``, 3 slow traces of up to 50 spans, 2 errors, one instance sample.

Prints, for one run:
  - payloads/s and sampled events/s applied end to end (posted → committed in Postgres),
    and transactions represented per second;
  - POST latency p50/p99;
  - freshness, 202 → visible in the query layer (apm.queries), p50/p95;
  - for the same events, the rate of a plain COPY (text and binary) into Postgres, and the
    ratio of the pipeline's events/s to the faster one.

Figures, not pass/fail. Bounded: two phases of --duration seconds plus set-up and
drains (about 2 minutes with the defaults).

    .venv/bin/python bench/ingest.py [--duration 25] [--processes 64] [--rate N]

Two phases: capacity (every simulated process posts back to back; throughput applied
end to end), then latency (open loop at 80 % of that capacity, or --rate: POST
latency and freshness at a load the pipeline sustains).
"""

import argparse
import asyncio
import datetime as dt
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Ahead of bench/ (the script's own folder, where loadgen is), so no bench script can
# shadow an app.
sys.path.insert(0, str(ROOT))

DB_NAME = os.environ.get("BENCH_DB", "pulse_bench")
BASE_DB = os.environ.get("BENCH_DATABASE_SERVER", "postgres://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
DATABASE_URL = f"{BASE_DB}/{DB_NAME}"
STREAM = "pulse:ingest:bench"

os.environ["DATABASE_URL"] = DATABASE_URL
os.environ["REDIS_URL"] = REDIS_URL
os.environ["INGEST_STREAM"] = STREAM
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pulse.settings")
os.environ.setdefault("DEBUG", "true")  # this process and its migrate; the servers get server_env()

import loadgen  # noqa: E402

from tests.servers import stop_group as stop  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values, q):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q * (len(s) - 1) + 0.5))]


def setup_database():
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", DB_NAME], capture_output=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True)


def server_env():
    return {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": "bench-secret-key-not-for-production-0123456789abcdef",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "INGEST_QUOTA_PER_MINUTE": "10000000",
        "PYTHONUNBUFFERED": "1",
    }


def start(cmd, log):
    return subprocess.Popen(cmd, cwd=ROOT, env=server_env(), stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_http(port, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not start")


def make_tenant():
    import django

    django.setup()
    from django.db import connection

    from tenants import keys
    from tenants.models import App, IngestKey, Organization

    org, _ = Organization.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    raw = keys.generate_key()
    IngestKey.objects.for_org(org).create(organization=org, label="bench", prefix=raw[:15], key_hash=keys.hash_key(raw))
    app, _ = App.objects.for_org(org).get_or_create(organization=org, name="bench-app")
    with connection.cursor() as cur:
        # A clean slate for the figures (the bench database is the bench's own).
        for table in ("apm_processedbatch", "apm_eventbatch", "apm_trace", "apm_transactionminute", "apm_appminute"):
            cur.execute(f"TRUNCATE {table}")
    return org, app, raw


def applied_count(org):
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM apm_processedbatch WHERE organization_id = %s", [org.pk])
        return cur.fetchone()[0]


EVENT_COLUMNS = "organization_id, app_id, transaction_id, end_time, duration, status, error, trace_id, has_trace"
EVENT_TYPES = ["int8", "uuid", "int8", "timestamptz", "float8", "int2", "bool", "varchar", "bool"]
_second_text = {}


def ts_text(t):
    """COPY text of a unix time (the text baseline's end times): cached per whole second,
    microseconds appended."""
    s = int(t)
    prefix = _second_text.get(s)
    if prefix is None:
        if len(_second_text) > 100_000:
            _second_text.clear()
        prefix = _second_text[s] = dt.datetime.fromtimestamp(s, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    return f"{prefix}.{int((t - s) * 1e6):06d}+00"


def copy_baseline(rows, fmt):
    """A plain COPY (text or binary) of the same events into a table of one row per event
    (as apm_event was before events were stored as arrays): a reference rate."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_copy")
        cur.execute(
            "CREATE TABLE bench_copy (id bigserial, organization_id bigint, app_id uuid, transaction_id bigint, "
            "end_time timestamptz, duration float8, status smallint, error bool, trace_id varchar(32), "
            "has_trace bool)"
        )
        cur.execute("CREATE INDEX ON bench_copy (app_id, end_time)")
        t0 = time.perf_counter()
        if fmt == "text":
            lines = []
            for o, a, t, end, d, st, err, tid, ht in rows:
                status = "\\N" if st is None else st
                lines.append(f"{o}\t{a}\t{t}\t{ts_text(end.timestamp())}\t{d!r}\t{status}\t"
                             f"{'t' if err else 'f'}\t{tid}\t{'t' if ht else 'f'}\n")
            with cur.copy(f"COPY bench_copy ({EVENT_COLUMNS}) FROM STDIN") as copy:
                copy.write("".join(lines))
        else:
            with cur.copy(f"COPY bench_copy ({EVENT_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(EVENT_TYPES)
                for row in rows:
                    copy.write_row(row)
        elapsed = time.perf_counter() - t0
        cur.execute("DROP TABLE bench_copy")
    return len(rows) / elapsed


def event_rows(procs, org, app, times):
    """The events the run posted, as rows of one event each (each template's events, ``times`` over)."""
    import datetime as dt
    import uuid

    app_id = uuid.UUID(str(app.pk))
    rows = []
    for proc in procs:
        chunk = [
            (org.pk, app_id, 1, dt.datetime.fromtimestamp(e["end"], dt.timezone.utc), e["duration"], e["status"],
             e["error"], e["trace_id"], e["has_trace"])
            for e in proc.template.payload["events"]
        ]
        for _ in range(times):
            rows.extend(chunk)
    return rows


async def probe_freshness(url, key, org, app, stop_at, out, post_probe=None):
    """Every 0.5 s: post a payload with a never-seen transaction name, time 202 → visible.
    ``post_probe(name, now)``: another way to post one (bench/otlp.py's), returning whether it
    was accepted."""
    from asgiref.sync import sync_to_async

    from apm import queries

    proc = loadgen.Process(app.name, 9999, names=["probe.warmup"], per_txn=(1, 1))
    client = loadgen.Client(url, key)
    n = 0

    async def post_agent_probe(name, now):
        body = loadgen.Body({**proc.payload(now), "metrics": [proc.metric(name, [0.01], int(now // 60) * 60)],
                             "events": [], "events_seen": 0, "traces": [], "errors": []})
        _, data = body.make()
        status, _, _ = await client.post(data)
        return status == 202

    def visible(name, since):
        rows = queries.transactions(org, app, since, time.time() + 60, q=name, limit=1)["transactions"]
        return bool(rows) and rows[0]["count"] > 0

    check = sync_to_async(visible, thread_sensitive=True)
    try:
        while time.monotonic() < stop_at:
            n += 1
            name = f"probe.{os.getpid()}.{n}.{time.time_ns()}"
            now = time.time()
            if not await (post_probe or post_agent_probe)(name, now):
                continue
            t202 = time.monotonic()
            while time.monotonic() - t202 < 10:
                if await check(name, now - 120):
                    out.append(time.monotonic() - t202)
                    break
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.5)
    finally:
        await client.close()


_TICK = os.sysconf("SC_CLK_TCK")


def _tree(pid):
    """pid and all its descendants."""
    out = [pid]
    try:
        children = open(f"/proc/{pid}/task/{pid}/children").read().split()
    except OSError:
        return out
    for c in children:
        out += _tree(int(c))
    return out


def _cpu_seconds(pids):
    total = 0.0
    for pid in pids:
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime
    return total


def _postgres_pids():
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        return [r[0] for r in cur.fetchall()]


def _redis_pid():
    out = subprocess.run(["pgrep", "-x", "redis-server"], capture_output=True, text=True).stdout.split()
    return [int(out[0])] if out else []


def cpu_snapshot(web, worker):
    """CPU seconds used so far by each part of the pipeline (this machine is shared, so
    CPU time per payload says more about cost than wall-clock rates do)."""
    return {
        "web (uvicorn)": _cpu_seconds(_tree(web.pid)),
        "workers (celery)": _cpu_seconds(_tree(worker.pid)),
        "postgres (bench db backends)": _cpu_seconds(_postgres_pids()),
        "redis (whole server)": _cpu_seconds(_redis_pid()),
        "load generator (this process)": _cpu_seconds([os.getpid()]),
    }


def missing_batches(org, batch_ids):
    """Accepted batch ids that are not in the ledger (should be none)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT b FROM unnest(%s::text[]) AS b WHERE NOT EXISTS (SELECT 1 FROM apm_processedbatch p "
            "WHERE p.organization_id = %s AND p.batch_id = b)",
            [batch_ids, org.pk],
        )
        return [r[0] for r in cur.fetchall()]


def machine_speed():
    """Milliseconds for a fixed pure-Python loop (best of 7): the machines these figures
    come from differ (the same code measured ~1.7x apart), so runs compare by this."""
    import timeit

    return min(timeit.repeat("sum(i * i for i in range(100000))", number=5, repeat=7)) / 5 * 1000


def run_phase(procs, url, key, org, app, r, seconds, rate, probe=True):
    """Post for ``seconds`` (back to back when rate is 0), then wait for the workers to apply
    everything accepted. Returns a dict of figures."""
    base_applied = applied_count(org)
    results, freshness = [], []
    interval = len(procs) / rate if rate else 0.0
    t_start = time.monotonic()
    stop_at = t_start + seconds

    async def load():
        jobs = [loadgen.run_process(p, url, key, stop_at, interval, results) for p in procs]
        if probe:
            jobs.append(probe_freshness(url, key, org, app, stop_at, freshness))
        await asyncio.gather(*jobs)

    loadgen.run(load())
    t_posted = time.monotonic()
    accepted = [x for x in results if x[2] == 202]
    # Everything accepted (probes included) must be applied; wait for the stream to empty.
    while (r.xlen(STREAM) or r.xpending(STREAM, "rollup")["pending"]) and time.monotonic() - t_posted < 60:
        time.sleep(0.05)
    t_applied = time.monotonic()
    n_applied = applied_count(org) - base_applied
    missing = missing_batches(org, [x[5] for x in accepted])
    elapsed = t_applied - t_start
    statuses = {}
    for x in results:
        statuses[x[2]] = statuses.get(x[2], 0) + 1
    return {
        "posted": len(results),
        "accepted": len(accepted),
        "statuses": statuses,
        "post_seconds": t_posted - t_start,
        "elapsed": elapsed,
        "applied": n_applied,
        "payloads_per_s": n_applied / elapsed,
        "events_per_s": sum(x[3] for x in accepted) / elapsed,
        "txns_per_s": sum(x[4] for x in accepted) / elapsed,
        "lat": [x[1] * 1000 for x in accepted],
        "fresh": [x * 1000 for x in freshness],
        "backlog_drain_s": t_applied - t_posted,
        "missing": missing,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=25.0, help="seconds of load per phase")
    ap.add_argument("--processes", type=int, default=64, help="simulated agent processes (connections)")
    ap.add_argument("--rate", type=float, default=0.0,
                    help="payloads/s of the latency phase (default: 80%% of the measured capacity)")
    cores = os.cpu_count() or 2
    half_cores = cores // 2 if cores > 3 else 1  # what `make run` starts (Makefile)
    ap.add_argument("--web-workers", type=int, default=half_cores)
    ap.add_argument("--worker-processes", type=int, default=half_cores)
    args = ap.parse_args()

    speed = machine_speed()
    print(f"machine: {os.cpu_count()} cores, reference loop {speed:.2f} ms (lower is faster)", flush=True)
    setup_database()
    import redis

    r = redis.Redis.from_url(REDIS_URL)
    r.delete(STREAM, f"{STREAM}:dead")
    org, app, key = make_tenant()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_dir = Path(os.environ.get("BENCH_LOG_DIR", "/tmp"))
    log_dir.mkdir(parents=True, exist_ok=True)
    web_log = open(log_dir / "pulse-bench-web.log", "w")
    worker_log = open(log_dir / "pulse-bench-worker.log", "w")
    web = start([sys.executable, "-m", "uvicorn", "pulse.asgi:application", "--host", "127.0.0.1", "--port", str(port),
                 "--workers", str(args.web_workers), "--no-access-log", "--log-level", "warning"], web_log)
    worker = start([sys.executable, "-m", "celery", "-A", "pulse", "worker", "-l", "WARNING",
                    f"--concurrency={args.worker_processes}", "--without-heartbeat", "--without-gossip",
                    "--without-mingle", "-Q", "bench-none"], worker_log)
    try:
        wait_http(port)
        procs = [loadgen.Process(app.name, i) for i in range(args.processes)]
        # Warm-up: every process posts once (transactions created, keys and apps cached).
        run_phase(procs, url, key, org, app, r, 1.0, len(procs), probe=False)

        print(f"phase 1, capacity: {args.processes} simulated processes posting back to back "
              f"for {args.duration:.0f} s ...", flush=True)
        cpu0 = cpu_snapshot(web, worker)
        cap = run_phase(procs, url, key, org, app, r, args.duration, 0.0)
        cpu1 = cpu_snapshot(web, worker)
        rate = args.rate or max(1.0, 0.8 * cap["payloads_per_s"])
        print(f"phase 2, latency: {rate:.0f} payloads/s (open loop) for {args.duration:.0f} s ...", flush=True)
        lat = run_phase(procs, url, key, org, app, r, args.duration, rate)

        # The COPY baseline: as many of the same event rows as phase 1 applied, from the same templates.
        per = max(1, cap["accepted"] // len(procs))
        rows = event_rows(procs, org, app, per)
        n_rows = len(rows)
        copy_text = copy_baseline(rows, "text")
        copy_rate = copy_baseline(rows, "binary")
        del rows
        dead = r.xlen(f"{STREAM}:dead")

        print()
        for name, ph in (("capacity (back to back)", cap), (f"latency ({rate:.0f}/s offered)", lat)):
            print(f"{name}: posted {ph['posted']} in {ph['post_seconds']:.1f} s, statuses {ph['statuses']}; "
                  f"applied {ph['applied']} (stream drained {ph['backlog_drain_s']:.1f} s after the last post)")
            if ph["missing"]:
                print(f"  NOT APPLIED: {len(ph['missing'])} accepted payloads, e.g. {ph['missing'][:3]}")
            print(f"  payloads/s applied end to end:   {ph['payloads_per_s']:10.0f}")
            print(f"  sampled events/s applied:        {ph['events_per_s']:10.0f}")
            print(f"  transactions represented/s:      {ph['txns_per_s']:10.0f}")
            print(f"  POST latency p50 / p99:          {pct(ph['lat'], 0.5):8.1f} ms / {pct(ph['lat'], 0.99):.1f} ms")
            print(f"  freshness 202→visible p50 / p95: {pct(ph['fresh'], 0.5):8.0f} ms / {pct(ph['fresh'], 0.95):.0f} ms"
                  f"  ({len(ph['fresh'])} probes)")
        print(f"plain COPY of the same {n_rows} events, a row each: text {copy_text:.0f} rows/s, "
              f"binary {copy_rate:.0f} rows/s")
        print(f"pipeline/COPY (capacity events/s over binary COPY rows/s) = {cap['events_per_s'] / copy_rate:.3f}")
        print(f"dead-lettered entries: {dead}")
        print("CPU per applied payload in the capacity phase (ms; the machine is shared, so this is the cost):")
        total = 0.0
        for part in cpu0:
            ms = (cpu1[part] - cpu0[part]) * 1000 / max(cap["applied"], 1)
            if not part.startswith("load"):
                total += ms
            print(f"  {part:32s} {ms:6.2f}")
        print(f"  {'server side in all':32s} {total:6.2f}  -> {2000 / total:.0f} payloads/s on 2 dedicated cores")
    finally:
        stop(web)
        stop(worker)
        r.delete(STREAM, f"{STREAM}:dead")
        web_log.close()
        worker_log.close()


if __name__ == "__main__":
    main()
