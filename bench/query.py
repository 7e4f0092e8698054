"""Query benchmark of the web UI: server time of every page and JSON endpoint on a big data set.

Seeds (once; --reseed to redo) 10 apps x 50 transactions x 14 days of 1-minute rollups, plus
the hourly and daily rows, error groups with per-minute counts and samples, slow traces,
sampled events and instance samples (and their hour rows), with COPY; then requests every monitoring page and
every JSON endpoint of the query API through Django's full request stack (test client,
in-process: the figure is server time, no network) for the ranges 1h, 24h, 7d and 14d and
prints median and p95 milliseconds and the number of SQL queries per request.

Run it against its own database (it creates it when missing):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pulse_querybench \\
    REDIS_URL=redis://127.0.0.1:6379/5 .venv/bin/python bench/query.py [--runs 15] [--reseed]

The full seed is ~4 GB. ``--apps N`` seeds only the N busiest of the ten services (the
measured one, the busiest, is the same as in the full seed; the tables are smaller).

Prints figures; never fails on them.
"""

import argparse
import io
import math
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pulse.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/pulse_querybench")
os.environ.setdefault("LOG_LEVEL", "WARNING")
# Production settings (cached templates, manifest static files), as a deployment runs them.
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-not-used-anywhere-else-0123456789abcdef")

APPS = 10
TXNS_PER_APP = 50
DAYS = 14
EVENT_DAYS = 2  # events and traces are kept 7 days; two days are plenty for their pages
INSTANCES_PER_APP = 4
ERROR_GROUPS_PER_APP = 20
RANGES = ("1h", "24h", "7d", "14d")


def ensure_database(url):
    import psycopg

    name = url.rsplit("/", 1)[1].split("?")[0]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")


# --- seeding ---------------------------------------------------------------------------


def sketch_pool(rng, size, n_values, sigma=0.6):
    """Encoded sketches of lognormal durations: rows reuse them (queries cost the same)."""
    from pulse_agent.sketch import DDSketch

    pool = []
    for _ in range(size):
        s = DDSketch()
        median = rng.choice((0.02, 0.05, 0.1, 0.2, 0.4))
        for _ in range(max(1, int(n_values * rng.uniform(0.5, 1.5)))):
            s.add(rng.lognormvariate(math.log(median), sigma))
        pool.append(s.to_bytes())
    return pool


def traffic_shape(t):
    """Relative load at time t: a daily wave (peak 14:00 UTC) and quieter weekends."""
    hour = t.hour + t.minute / 60.0
    daily = 0.55 + 0.45 * math.cos((hour - 14) / 24 * 2 * math.pi)
    return daily * (0.6 if t.weekday() >= 5 else 1.0)


class Seeder:
    def __init__(self, days, rng, apps=APPS):
        self.days = days
        self.n_apps = apps
        self.rng = rng
        self.now = datetime.now(UTC).replace(second=0, microsecond=0)
        self.start = (self.now - timedelta(days=days)).replace(hour=0, minute=0)

    def run(self):
        from django.db import connection, transaction

        from apm import partitions
        from tenants.models import App, Membership, Organization, User
        from tenants.roles import Role

        t0 = time.time()
        with transaction.atomic():
            Organization.objects.filter(slug="bench").delete()
            user = User.objects.filter(email="bench@example.com").first() or User.objects.create_user(
                "bench@example.com", "bench-password-123"
            )
            org = Organization.objects.create(name="Bench", slug="bench")
            Membership.objects.for_org(org).create(organization=org, user=user, role=Role.OWNER)
            apps = [
                App.objects.for_org(org).create(organization=org, name=f"service-{i:02d}")
                for i in range(APPS - self.n_apps, APPS)
            ]
        day = self.start.date()
        while day <= self.now.date() + timedelta(days=1):
            partitions.ensure_days([day])
            day += timedelta(days=1)
        self.org, self.apps = org, apps
        rng = self.rng
        print("building sketch pools…", flush=True)
        self.txn_sketches = sketch_pool(rng, 300, 40)
        self.app_sketches = sketch_pool(rng, 150, 1500)
        self.hour_sketches = sketch_pool(rng, 80, 20000)
        with connection.cursor() as cur:
            self.transactions(cur)
            self.rollups(cur)
            self.errors(cur)
            self.traces_and_events(cur)
            self.instances(cur)
            print("analyze…", flush=True)
            for table in (
                "apm_transactionminute", "apm_appminute", "apm_transactionhour", "apm_apphour", "apm_transactionday",
                "apm_appday", "apm_errorminute", "apm_errorgroup", "apm_errorsample", "apm_trace", "apm_eventbatch",
                "apm_instanceminute", "apm_instancehour", "apm_transaction",
            ):
                cur.execute(f"ANALYZE {table}")
        print(f"seeded in {time.time() - t0:.0f} s", flush=True)
        return org, apps, user

    def transactions(self, cur):
        rng = self.rng
        self.txns = {}  # app id -> [(txn id, name, weight, median seconds, error rate, segment shares)]
        for app in self.apps:
            rows = []
            for k in range(TXNS_PER_APP):
                kind = "background" if k >= TXNS_PER_APP - 5 else "web"
                name = f"{'tasks' if kind == 'background' else 'GET /api'}/{app.name}/endpoint-{k:02d}"
                cur.execute(
                    "INSERT INTO apm_transaction (organization_id, app_id, type, name, created_at) "
                    "VALUES (%s, %s, %s, %s, now()) RETURNING id",
                    [self.org.id, app.id, kind, name],
                )
                shares = [rng.random() for _ in range(4)]
                total = sum(shares)
                rows.append(
                    (
                        cur.fetchone()[0],
                        kind,
                        1.0 / (k + 1) ** 0.9,  # Zipf-like popularity
                        rng.choice((0.01, 0.03, 0.06, 0.12, 0.3, 0.8)),
                        rng.choice((0.0, 0.0, 0.001, 0.01, 0.05)),
                        [s / total for s in shares],
                    )
                )
            self.txns[app.id] = rows

    def rollups(self, cur):
        """Minute rows per transaction and per app, and their hour and day sums.

        Rows are written as COPY text (much faster than adapting tuples); sketches come from
        small pools, pre-rendered as bytea hex.
        """
        rng = self.rng
        minute_cols = (
            "organization_id, app_id, time, count, errors, sum, min, max, apdex_s, apdex_t, apdex_f, "
            "seg_python, seg_database, seg_external, seg_template, sketch"
        )
        # bytea in COPY text: \\x + hex (the backslash itself escaped for COPY).
        txn_hex, app_hex, hour_hex = (
            ["\\\\x" + b.hex() for b in pool] for pool in (self.txn_sketches, self.app_sketches, self.hour_sketches)
        )
        minutes = int((self.now - self.start).total_seconds() // 60)
        n_rows = 0
        t0 = time.time()
        uniform, rand, choice = rng.uniform, rng.random, rng.choice
        for app in self.apps:
            peak_rpm = 400 + 300 * int(app.name.rsplit("-", 1)[1])  # from a quiet service to a busy one
            txns = self.txns[app.id]
            weight_sum = sum(w for _, _, w, _, _, _ in txns)
            prefix = f"{self.org.id}\t{app.id}\t"
            hour_txn, day_txn = {}, {}
            hour_app, day_app = {}, {}
            app_rows = {}
            buf = io.StringIO()
            write = buf.write
            for i in range(minutes):
                t = self.start + timedelta(minutes=i)
                t_text = t.strftime("%Y-%m-%d %H:%M:00+00")
                load = traffic_shape(t) * peak_rpm
                per_type = {}
                hour = t.replace(minute=0)
                day = t.replace(hour=0, minute=0)
                for tid, kind, weight, median, err_rate, shares in txns:
                    count = int(load * weight / weight_sum * uniform(0.7, 1.3) + rand())
                    if count <= 0:
                        continue
                    mean = median * 1.2 * uniform(0.8, 1.25)
                    total = count * mean
                    errors = int(count * err_rate + rand() * (err_rate > 0))
                    satisfied = int(count * 0.85)
                    tolerating = int((count - satisfied) * 0.7)
                    row = [
                        count, errors, total, mean * 0.3, mean * 4, satisfied, tolerating,
                        count - satisfied - tolerating, total * shares[0], total * shares[1], total * shares[2],
                        total * shares[3],
                    ]
                    write(prefix + t_text + "\t" + "\t".join(map(str, row)) + "\t" + choice(txn_hex) + f"\t{tid}\n")
                    n_rows += 1
                    _add(hour_txn, (tid, hour), row)
                    _add(day_txn, (tid, day), row)
                    _add(per_type, kind, row)
                for kind, row in per_type.items():
                    app_rows[(kind, t)] = row
                    _add(hour_app, (kind, hour), row)
                    _add(day_app, (kind, day), row)
            with cur.copy(f"COPY apm_transactionminute ({minute_cols}, transaction_id) FROM STDIN") as copy:
                copy.write(buf.getvalue())
            for table, store, key_col, pool in (
                ("apm_appminute", app_rows, "txn_type", app_hex),
                ("apm_transactionhour", hour_txn, "transaction_id", app_hex),
                ("apm_transactionday", day_txn, "transaction_id", hour_hex),
                ("apm_apphour", hour_app, "txn_type", hour_hex),
                ("apm_appday", day_app, "txn_type", hour_hex),
            ):
                out = io.StringIO()
                for (key, t), row in store.items():
                    out.write(
                        prefix + t.strftime("%Y-%m-%d %H:%M:00+00") + "\t" + "\t".join(map(str, row)) + "\t"
                        + choice(pool) + f"\t{key}\n"
                    )
                with cur.copy(f"COPY {table} ({minute_cols}, {key_col}) FROM STDIN") as copy:
                    copy.write(out.getvalue())
            print(
                f"  rollups of {app.name}: {n_rows:,} transaction-minute rows so far "
                f"({n_rows / (time.time() - t0):,.0f}/s)",
                flush=True,
            )

    def errors(self, cur):
        rng = self.rng
        minutes = int((self.now - self.start).total_seconds() // 60)
        for app in self.apps:
            groups = []
            for g in range(ERROR_GROUPS_PER_APP):
                gid = uuid.uuid4()
                txn_name = f"GET /api/{app.name}/endpoint-{g % 10:02d}"
                groups.append((gid, txn_name, 1.0 / (g + 1)))
            counts = {gid: 0 for gid, _, _ in groups}
            minute_rows = []
            for i in range(0, minutes):
                t = self.start + timedelta(minutes=i)
                for gid, _, weight in groups:
                    if rng.random() < 0.15 * weight:
                        n = 1 + int(rng.random() * 3)
                        counts[gid] += n
                        minute_rows.append((self.org.id, app.id, gid, t, n))
            with cur.copy(
                "COPY apm_errorgroup (id, organization_id, app_id, fingerprint, error_class, message, top_frame, "
                "transaction_name, first_seen, last_seen, count) FROM STDIN"
            ) as copy:
                for g, (gid, txn_name, _) in enumerate(groups):
                    copy.write_row(
                        (gid, self.org.id, app.id, uuid.uuid4().hex[:40], f"app.errors.Error{g}",
                         f"something failed for id <n> in step {g}", f"app/views.py in handler_{g}", txn_name,
                         self.start, self.now, counts[gid])
                    )
            with cur.copy("COPY apm_errorminute (organization_id, app_id, group_id, time, count) FROM STDIN") as copy:
                for row in minute_rows:
                    copy.write_row(row)
            stack = (
                '[{"file": "app/views.py", "line": 10, "function": "handler", "code": "do_it()"}, '
                '{"file": "app/logic.py", "line": 42, "function": "do_it", "code": "raise Error(msg)"}]'
            )
            with cur.copy(
                "COPY apm_errorsample (organization_id, app_id, group_id, time, error_class, message, "
                "transaction_name, trace_id, stack) FROM STDIN"
            ) as copy:
                for g, (gid, txn_name, _) in enumerate(groups):
                    for k in range(20):
                        copy.write_row(
                            (self.org.id, app.id, gid, self.now - timedelta(minutes=7 * k), f"app.errors.Error{g}",
                             f"something failed for id {k} in step {g}", txn_name, uuid.uuid4().hex, stack)
                        )

    def traces_and_events(self, cur):
        import json

        rng = self.rng
        since = self.now - timedelta(days=EVENT_DAYS)
        minutes = EVENT_DAYS * 1440
        for app in self.apps:
            web = [t for t in self.txns[app.id] if t[1] == "web"]
            with cur.copy(
                "COPY apm_trace (organization_id, app_id, transaction_id, trace_id, parent_span_id, start, duration, "
                "status, error, span_count, spans) FROM STDIN"
            ) as copy:
                for i in range(0, minutes, 2):  # a slow trace every other minute
                    t = since + timedelta(minutes=i, seconds=rng.uniform(0, 59))
                    tid = rng.choice(web)[0]
                    duration = rng.uniform(0.5, 4.0)
                    spans = [{"id": "%016x" % 1, "parent": None, "kind": "python", "name": "handler", "offset": 0.0,
                              "duration": duration, "attrs": {}}]
                    for s in range(2, 32):
                        spans.append({"id": "%016x" % s, "parent": "%016x" % 1, "kind": "database",
                                      "name": "SELECT app_item", "offset": duration * s / 40,
                                      "duration": duration / 50,
                                      "attrs": {"sql": "SELECT * FROM app_item WHERE id = ?"}})
                    copy.write_row((self.org.id, app.id, tid, uuid.uuid4().hex, "", t, duration, 200, False,
                                    len(spans), json.dumps(spans).encode()))
            with cur.copy(
                "COPY apm_eventbatch (organization_id, app_id, end_min, end_max, transaction_ids, end_times, "
                "durations, statuses, errors, trace_ids, has_trace) FROM STDIN"
            ) as copy:
                for i in range(minutes):  # a payload a minute: 20 events as one row of arrays
                    t = (since + timedelta(minutes=i)).timestamp()
                    picks = [rng.choice(web) for _ in range(20)]
                    ends = [t + rng.uniform(0, 59) for _ in picks]
                    copy.write_row((self.org.id, app.id, datetime.fromtimestamp(min(ends), UTC),
                                    datetime.fromtimestamp(max(ends), UTC), [w[0] for w in picks], ends,
                                    [w[3] * rng.uniform(0.5, 2) for w in picks], [200] * 20, [False] * 20,
                                    [uuid.uuid4().hex for _ in picks], [False] * 20))

    def instances(self, cur):
        rng = self.rng
        minutes = int((self.now - self.start).total_seconds() // 60)
        for app in self.apps:
            with cur.copy(
                "COPY apm_instanceminute (organization_id, app_id, host, pid, time, cpu_percent, memory_bytes, threads, "
                "started_at, agent_version, runtime_version, framework, dropped) FROM STDIN"
            ) as copy:
                for i in range(minutes):
                    t = self.start + timedelta(minutes=i)
                    load = traffic_shape(t)
                    for k in range(INSTANCES_PER_APP):
                        copy.write_row((self.org.id, app.id, f"{app.name}-web-{k}", 1000 + k, t,
                                        10 + 60 * load * rng.uniform(0.9, 1.1), int(2e8 + k * 1e7), 8, self.start,
                                        "0.1.0", "3.11.7", "django 5.2", "{}"))
        # Their hour rows, as the downsampling writes them every minute.
        from apm.downsample import rebuild_instance_hours

        rebuild_instance_hours(cur, self.org.id, self.start, self.now + timedelta(hours=1))


def _add(store, key, row):
    acc = store.get(key)
    if acc is None:
        store[key] = list(row)
        return
    acc[0] += row[0]
    acc[1] += row[1]
    acc[2] += row[2]
    acc[3] = min(acc[3], row[3])
    acc[4] = max(acc[4], row[4])
    for i in range(5, 12):
        acc[i] += row[i]


# --- timing ----------------------------------------------------------------------------


def range_query(key, now):
    """UI pages take presets, and from/to for 14 days (not a preset of the picker)."""
    if key == "14d":
        return f"from={int((now - timedelta(days=14)).timestamp())}&to={int(now.timestamp())}"
    return f"range={key}"


def targets(org, app, range_key):
    from django.urls import NoReverseMatch, reverse

    from apm.models import ErrorGroup, Trace, Transaction

    now = datetime.now(UTC)
    q = range_query(range_key, now)
    txn = Transaction.objects.for_org(org).filter(app=app, type="web").order_by("id").first()
    group = ErrorGroup.objects.for_org(org).filter(app=app).order_by("-count").first()
    trace = Trace.objects.for_org(org).filter(app=app).order_by("-start").first()
    base = [org.slug, app.id]
    pages = [
        ("page overview", reverse("app_overview", args=base) + "?" + q),
        ("page transactions", reverse("app_transactions", args=base) + "?" + q),
        ("page transactions p95", reverse("app_transactions", args=base) + "?sort=p95&" + q),
        ("page transaction", reverse("transaction_detail", args=base + [txn.id]) + "?" + q),
        ("page errors", reverse("app_errors", args=base) + "?" + q),
        ("page error", reverse("error_detail", args=base + [group.id]) + "?" + q),
        ("page instances", reverse("app_instances", args=base) + "?" + q),
        ("page capacity", reverse("app_capacity", args=base) + "?target_tps=100&" + q),
    ]
    api_q = f"range={range_key}"
    api = []
    for label, name, extra, query in (
        ("api timeseries", "api-timeseries", [], api_q),
        ("api transactions", "api-transactions", [], api_q),
        ("api transaction", "api-transaction", [txn.id], api_q),
        ("api errors", "api-errors", [], api_q),
        ("api error", "api-error", [group.id], api_q),
        ("api traces", "api-traces", [], api_q),
        ("api events", "api-events", [], "range=1h" if range_key != "1h" else api_q),
        ("api instances", "api-instances", [], api_q),
    ):
        try:
            api.append((label, reverse(name, args=base + extra) + "?" + query))
        except NoReverseMatch:
            pass
    return pages + api, trace


def fixed_targets(org, app, trace):
    from django.urls import NoReverseMatch, reverse

    out = [("page apps", reverse("app_list", args=[org.slug]))]
    if trace is not None:
        out.append(("page trace", reverse("trace_detail", args=[org.slug, app.id, trace.trace_id])))
    for label, name, args in (
        ("api apps", "api-apps", [org.slug]),
        ("api trace", "api-trace", [org.slug, app.id, trace.trace_id] if trace else None),
    ):
        if args is None:
            continue
        try:
            out.append((label, reverse(name, args=args)))
        except NoReverseMatch:
            pass
    return out


def warm_like_beat(days=1):
    """What frontend.warm_chart_cache has cached after running for a day: app percentiles."""
    from apm import queries

    t0 = time.time()
    until = time.time() - queries.CLOSED_AFTER - 60
    n = queries.warm_app_quantiles(until - days * 86400, until)
    print(f"warmed the percentiles of {n:,} app minute rows like the beat task does ({time.time() - t0:.0f} s)")


def clear_cache():
    """Empty the page caches (the bench's own Redis db) except the beat-warmed app percentiles."""
    import redis
    from django.conf import settings

    r = redis.Redis.from_url(settings.REDIS_URL)
    doomed = [k for k in r.scan_iter(match="*apm:*", count=10_000) if b":apm:q:am:" not in k]
    for i in range(0, len(doomed), 1000):
        r.delete(*doomed[i : i + 1000])


def measure(client, url, runs):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    clear_cache()  # the first request computes every sketch it needs but what beat keeps warm
    t0 = time.perf_counter()
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    cold = (time.perf_counter() - t0) * 1000
    if response.status_code != 200:
        return None, response.status_code
    queries = len(ctx.captured_queries)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        client.get(url)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, math.ceil(0.95 * len(times)) - 1)]
    return (statistics.median(times), p95, queries, cold), 200


def bench(org, user, apps, runs):
    from django.test import Client
    from django.urls import reverse

    client = Client()
    client.force_login(user)
    app = apps[-1]  # the busiest service
    warm_like_beat()
    # The process's first requests compile templates and load the static manifest: not queries.
    for url in (reverse("app_list", args=[org.slug]), reverse("app_overview", args=[org.slug, apps[0].id])):
        client.get(url)
    print(f"\nserver time per request: median and p95 of {runs} runs after a first, cold-cache one; app {app.name}")
    print("load average at start (the machine is shared): " + ", ".join(f"{x:.1f}" for x in os.getloadavg()))
    print(f"{'target':26} {'range':>5} {'median ms':>10} {'p95 ms':>8} {'queries':>8} {'cold ms':>8}")
    results = []
    trace = None
    for range_key in RANGES:
        items, trace = targets(org, app, range_key)
        for label, url in items:
            figures, status = measure(client, url, runs)
            if figures is None:
                print(f"{label:26} {range_key:>5}  HTTP {status}  {url}")
                continue
            results.append((label, range_key, *figures))
            print(f"{label:26} {range_key:>5} {figures[0]:10.1f} {figures[1]:8.1f} {figures[2]:8d} {figures[3]:8.1f}", flush=True)
    for label, url in fixed_targets(org, app, trace):
        figures, status = measure(client, url, runs)
        if figures is None:
            print(f"{label:26} {'-':>5}  HTTP {status}  {url}")
            continue
        results.append((label, "-", *figures))
        print(f"{label:26} {'-':>5} {figures[0]:10.1f} {figures[1]:8.1f} {figures[2]:8d} {figures[3]:8.1f}", flush=True)
    print("load average at end: " + ", ".join(f"{x:.1f}" for x in os.getloadavg()))
    over = [r for r in results if r[3] > 150]
    print(f"\n{len(results)} measurements; {len(over)} with p95 over 150 ms" + (":" if over else ""))
    for r in over:
        print(f"  {r[0]} {r[1]}: p95 {r[3]:.0f} ms")
    cold = [r for r in results if r[5] > 150]
    print(f"{len(cold)} with the cold (first, empty cache) request over 150 ms" + (":" if cold else ""))
    for r in cold:
        print(f"  {r[0]} {r[1]}: cold {r[5]:.0f} ms")


def browser_timing(org, user, app, runs):
    """Wall time from navigation to drawn charts of the overview in headless Chromium, against
    uvicorn on a free port (same settings and database as above)."""
    import socket
    import subprocess

    from django.conf import settings
    from django.test import Client
    from django.urls import reverse

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("\n(playwright not installed: no browser timing)")
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "pulse.asgi:application", "--port", str(port), "--no-access-log",
         "--log-level", "warning"],
        cwd=ROOT,
        env={**os.environ, "ALLOWED_HOSTS": "127.0.0.1,localhost"},
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        client = Client()
        client.force_login(user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
        print(f"\nbrowser: overview of {app.name} from navigation to drawn charts (headless Chromium, uvicorn)")
        with sync_playwright() as pw:
            chromium = pw.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
            )
            context = chromium.new_context(viewport={"width": 1366, "height": 900})
            context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": base}])
            page = context.new_page()
            for range_key in RANGES:
                url = base + reverse("app_overview", args=[org.slug, app.id]) + "?" + range_query(range_key, datetime.now(UTC))
                times = []
                for _ in range(runs):
                    t0 = time.perf_counter()
                    page.goto(url)
                    page.wait_for_selector("html[data-charts-ready]", state="attached")
                    times.append((time.perf_counter() - t0) * 1000)
                times.sort()
                p95 = times[min(len(times) - 1, math.ceil(0.95 * len(times)) - 1)]
                print(f"{'overview in browser':26} {range_key:>5} {statistics.median(times):10.1f} {p95:8.1f}")
            chromium.close()
    finally:
        server.terminate()
        server.wait(timeout=10)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--days", type=int, default=DAYS)
    parser.add_argument("--apps", type=int, default=APPS, choices=range(1, APPS + 1), metavar=f"1..{APPS}",
                        help="seed only the N busiest services (a smaller data set)")
    parser.add_argument("--no-browser", action="store_true", help="skip the in-browser overview timing")
    args = parser.parse_args()

    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    from tenants.models import App, Organization, User

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)  # DEBUG=false serves the manifest
    org = Organization.objects.filter(slug="bench").first()
    if org is None or args.reseed:
        org, apps, user = Seeder(args.days, random.Random(42), args.apps).run()
    else:
        apps = list(App.objects.for_org(org).order_by("name"))
        user = User.objects.get(email="bench@example.com")
        print(f"reusing the seeded data set of {org.created_at:%Y-%m-%d %H:%M} (--reseed to redo)")
    bench(org, user, apps, args.runs)
    if not args.no_browser:
        browser_timing(org, user, apps[-1], max(3, args.runs // 3))


if __name__ == "__main__":
    main()
