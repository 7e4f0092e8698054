"""Alerting benchmark: detection delay end to end, and evaluation time for 1,000 conditions.

1. Detection delay. A real Celery worker and a real Celery beat run as subprocesses. Before
   each minute boundary B, payloads that breach a p95 condition (window 3 min) for the
   minutes B-3 .. B-1 are posted to /api/v1/ingest (in process, through Django's stack) and
   rolled up by the worker's ingest consumer. At B the breach window is complete; beat
   fires alerts.evaluate_all; the worker opens the incident and sends a signed webhook to a
   local HTTP server. Printed per incident: B -> incident opened, B -> webhook received
   (this includes ALERTS_EVALUATION_DELAY, the grace for the minute's last harvests).
   Several organisations breach at each boundary, so each boundary gives several samples.

2. Evaluation time. One organisation with 100 apps x 5 transactions and 60 minutes of
   minute rollups (written with the pipeline's apply_batch), 10 conditions per app (1,000:
   p95, p99, avg, Apdex, error rate, throughput, error count, a transaction's p95, no data,
   CPU), evaluated in process for several successive minutes: wall time and SQL queries.

Run against its own database (created and migrated when missing):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pulse_alerts_bench \\
    REDIS_URL=redis://127.0.0.1:6379/6 .venv/bin/python bench/alerting.py [--boundaries 3] [--orgs 3]

Prints figures; never fails on them.
"""

import argparse
import gzip
import http.server
import json
import os
import queue
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone as dt_timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pulse.settings")
os.environ.setdefault("DEBUG", "true")  # a local run, like `make run`
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/pulse_alerts_bench")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ["ALERTS_ALLOW_PRIVATE_WEBHOOKS"] = "true"  # the receiver is on loopback
os.environ["ALERTS_WEBHOOK_PORTS"] = "*"  # on a port of its own

UTC = dt_timezone.utc

from contract import builders  # noqa: E402


def ensure_database(url):
    import psycopg

    name = url.rsplit("/", 1)[1].split("?")[0]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def setup_django():
    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def fmt(values, unit="s"):
    return (
        f"n={len(values)}  min {min(values):.2f} {unit}  median {statistics.median(values):.2f} {unit}  "
        f"max {max(values):.2f} {unit}"
    )


# --- telemetry -------------------------------------------------------------------------


def slow_durations(p95, n=40):
    return [0.05] * (n - n // 10) + [p95] * (n // 10)


# --- part 1: detection delay ----------------------------------------------------------


class Receiver:
    def __init__(self):
        self.received = queue.Queue()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.received.put((time.time(), self.path, body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def start(cmd, env, log_path):
    log = open(log_path, "wb")
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc):
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def detection_delay(boundaries, orgs_per_boundary):
    from django.conf import settings
    from django.test import Client

    from alerts.models import ChannelKind, Condition, Incident, NotificationChannel
    from tenants import actions as tenant_actions
    from tenants.models import App, Organization

    # Only this part's organisations are evaluated (the bench database keeps part 2's).
    Condition.objects.unscoped().update(enabled=False)
    receiver = Receiver()
    tmp = Path(tempfile.mkdtemp(prefix="pulse-alerts-bench-"))
    # A beat lock of its own: a `make run` beat on the same Redis must not keep this one waiting.
    env = dict(os.environ, ALERTS_ALLOW_PRIVATE_WEBHOOKS="true", ALERTS_WEBHOOK_PORTS="*", LOG_LEVEL="WARNING",
               BEAT_KEY_PREFIX=f"pulse:bench-beat:{uuid.uuid4().hex[:8]}")
    worker = start([sys.executable, "-m", "celery", "-A", "pulse", "worker", "--pool=solo", "--loglevel=INFO", "-Q", "celery,alerts.delivery",
                    "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"alerts-bench-{uuid.uuid4().hex[:6]}@%h"],
                   env, tmp / "worker.log")
    beat = start([sys.executable, "-m", "celery", "-A", "pulse", "beat", "--loglevel=INFO"],
                 env, tmp / "beat.log")
    client = Client()
    opened, received = [], []
    try:
        deadline = time.time() + 60
        while b"ready." not in (tmp / "worker.log").read_bytes():
            if time.time() > deadline or worker.poll() is not None:
                raise RuntimeError((tmp / "worker.log").read_text()[-2000:])
            time.sleep(0.2)
        print(f"worker (solo pool, with the ingest consumer thread) and beat running (ALERTS_EVALUATION_DELAY={settings.ALERTS_EVALUATION_DELAY} s); "
              f"{boundaries} minute boundaries x {orgs_per_boundary} organisations")
        for round_no in range(boundaries):
            now = datetime.now(UTC)
            boundary = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
            if (boundary - now).total_seconds() < 25:
                boundary += timedelta(minutes=1)  # leave time to post and roll up
            prepared = []
            for n in range(orgs_per_boundary):
                slug = f"bench-{uuid.uuid4().hex[:10]}"
                org = Organization.objects.create(name=slug, slug=slug)
                app = App.objects.for_org(org).create(organization=org, name="checkout")
                key = tenant_actions.create_ingest_key(org, "bench", None).raw
                channel = NotificationChannel.objects.for_org(org).create(
                    organization=org, name="hook", kind=ChannelKind.WEBHOOK, config={"url": f"{receiver.base}/{slug}"}
                )
                condition = Condition.objects.for_org(org).create(
                    organization=org, app=app, name="slow", metric="p95", warning_threshold=300, window_minutes=3
                )
                condition.warning_channels.set([channel])
                for i in (3, 2, 1):
                    minute = int((boundary - timedelta(minutes=i)).timestamp())
                    body = gzip.compress(json.dumps(builders.payload("checkout", [builders.metric("checkout", slow_durations(0.6), minute)])).encode())
                    r = client.post("/api/v1/ingest", body, content_type="application/json",
                                    HTTP_AUTHORIZATION=f"Bearer {key}", HTTP_CONTENT_ENCODING="gzip")
                    assert r.status_code == 202, r.content
                prepared.append((org, slug))
            # Minutes still in progress are posted too (the agent sends them as they go);
            # the boundary is when the window is complete.
            while datetime.now(UTC) < boundary:
                time.sleep(0.05)
            waiting = {slug: org for org, slug in prepared}
            deadline = time.time() + 90
            while waiting and time.time() < deadline:
                try:
                    at, path, body = receiver.received.get(timeout=1)
                except queue.Empty:
                    continue
                slug = path.strip("/")
                org = waiting.pop(slug, None)
                if org is None:
                    continue
                incident = Incident.objects.for_org(org).get()
                opened.append((incident.opened_at - boundary).total_seconds())
                received.append(at - boundary.timestamp())
            if waiting:
                print(f"  boundary {boundary:%H:%M}: {len(waiting)} webhooks did not arrive within 90 s")
            print(f"  boundary {boundary:%H:%M}: done")
    finally:
        stop(beat)
        stop(worker)
        receiver.server.shutdown()
    print("Detection delay (breach window complete -> ...), seconds:")
    print(f"  incident opened:   {fmt(opened)}")
    print(f"  webhook received:  {fmt(received)}")
    print(f"  opened -> webhook: {fmt([r - o for o, r in zip(opened, received)])}")


# --- part 2: evaluation time -----------------------------------------------------------

APPS = 100
TXNS = 5
HISTORY_MINUTES = 60


def seed_evaluation(org_slug):
    from apm.rollup import apply_batch
    from alerts.models import Condition, Metric
    from tenants.models import App, Organization

    # Fresh data every run: the minutes must end now, or no-data conditions fire everywhere.
    Organization.objects.filter(slug=org_slug).delete()
    org = Organization.objects.create(name="eval bench", slug=org_slug)
    apps = [App.objects.for_org(org).create(organization=org, name=f"app-{i:03d}") for i in range(APPS)]
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    rng = random.Random(7)
    entries = []
    for app in apps:
        for m in range(HISTORY_MINUTES + 10, 0, -1):
            minute = int((end - timedelta(minutes=m)).timestamp())
            metrics = [
                builders.metric(f"txn-{t}", [rng.lognormvariate(-2.5, 0.8) for _ in range(30)], minute, errors=rng.randint(0, 2))
                for t in range(TXNS)
            ]
            inst = builders.instance(minute + 30.0, "web-1", 1, rng.uniform(5, 60), 200_000_000)
            p = builders.payload(app.name, metrics, inst=inst, sent_at=minute + 59.0)
            entries.append(builders.entry(org.id, app.id, p))
    for i in range(0, len(entries), 200):
        apply_batch(entries[i : i + 200])
    specs = [
        dict(metric=Metric.P95, warning_threshold=400, critical_threshold=2000),
        dict(metric=Metric.P99, warning_threshold=800, critical_threshold=4000),
        dict(metric=Metric.AVG, warning_threshold=200, critical_threshold=1000),
        dict(metric=Metric.APDEX, comparison="below", warning_threshold=0.85, critical_threshold=0.7),
        dict(metric=Metric.ERROR_RATE, warning_threshold=5, critical_threshold=20, mode="any"),
        dict(metric=Metric.THROUGHPUT, comparison="below", warning_threshold=10),
        dict(metric=Metric.ERROR_COUNT, warning_threshold=50),
        dict(metric=Metric.P95, transaction="txn-0", warning_threshold=300, window_minutes=10),
        dict(metric=Metric.NO_DATA, window_minutes=10),
        dict(metric=Metric.CPU, warning_threshold=55, window_minutes=2),
    ]
    conditions = []
    for app in apps:
        for n, spec in enumerate(specs):
            fields = dict(window_minutes=5, comparison="above", mode="sustained")
            fields.update(spec)
            conditions.append(Condition(organization=org, app=app, name=f"c{n}", **fields))
    Condition.objects.for_org(org).bulk_create(conditions)
    return org


def evaluation_time(minutes):
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    from alerts.evaluation import evaluate_org
    from alerts.models import Condition, Incident

    t0 = time.perf_counter()
    org = seed_evaluation("alerts-eval-bench")
    print(f"seeded {APPS} apps x {TXNS} transactions x {HISTORY_MINUTES + 10} min in {time.perf_counter() - t0:.1f} s; "
          f"{Condition.objects.for_org(org).count()} conditions")
    # Start from a clean slate so each run evaluates every condition.
    Incident.objects.for_org(org).delete()
    Condition.objects.for_org(org).update(last_evaluated_minute=None)
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    times, queries = [], []
    for i in range(minutes):
        minute = end - timedelta(minutes=minutes - i)
        with CaptureQueriesContext(connection) as ctx:
            t = time.perf_counter()
            outcome = evaluate_org(org, minute)
            times.append(time.perf_counter() - t)
        queries.append(len(ctx.captured_queries))
        print(f"  minute {minute:%H:%M}: {times[-1]:.2f} s, {queries[-1]} queries, evaluated {outcome.evaluated}, "
              f"opened {outcome.opened}, escalated {outcome.escalated}, resolved {outcome.resolved}")
        reset_queries()
    t = time.perf_counter()
    again = evaluate_org(org, end - timedelta(minutes=1))
    repeat = time.perf_counter() - t
    print("Evaluation of 1,000 conditions across 100 apps (one organisation, in process):")
    print(f"  per minute: {fmt(times)}")
    print(f"  SQL queries per minute: median {statistics.median(queries):.0f}")
    print(f"  the same minute again: {repeat:.2f} s, evaluated {again.evaluated} (idempotent)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--boundaries", type=int, default=3, help="minute boundaries to measure detection at")
    parser.add_argument("--orgs", type=int, default=3, help="organisations breaching at each boundary")
    parser.add_argument("--minutes", type=int, default=5, help="successive minutes to evaluate in part 2")
    parser.add_argument("--skip-delay", action="store_true")
    parser.add_argument("--skip-eval", action="store_true")
    args = parser.parse_args()
    setup_django()
    if not args.skip_eval:
        evaluation_time(args.minutes)
    if not args.skip_delay:
        detection_delay(args.boundaries, args.orgs)


if __name__ == "__main__":
    main()
