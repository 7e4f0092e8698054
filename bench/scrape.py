"""Prometheus scrape benchmark: server time and SQL queries of the exposition behind GET /api/v1/metrics.

Seeds (once; --reseed to redo) bench/query.py's data set, by default one day of it for all ten
apps (500 transactions, 40 processes), marks the last two hours of the data as ingest leaves
them (read from their minute rows), then writes the exposition (apm/prometheus.py) as at the
data's last minute, so the percentile window is full, in both formats, and prints the median
and p95 milliseconds, the queries per scrape and the size of the answer. The token look-up
and Django's request handling add one indexed query and well under a millisecond.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pulse_scrapebench \\
    REDIS_URL=redis://127.0.0.1:6379/5 .venv/bin/python bench/scrape.py [--runs 30] [--reseed]

Prints figures; never fails on them.
"""

import argparse
import math
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/pulse_scrapebench")

from bench.query import APPS, Seeder, clear_cache, ensure_database  # noqa: E402  (sets the Django settings)

FORMATS = {"text": None, "openmetrics": "application/openmetrics-text;version=1.0.0"}


def data_end(org):
    """Unix seconds just after the seeded data's last minute."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT extract(epoch FROM max(time))::bigint FROM apm_appminute WHERE organization_id = %s", [org.pk])
        return cur.fetchone()[0] + 60


def mark_recent_hours_stale(org, end):
    """The hours ingest is writing to are marked until the next downsample (apm/stale_hours.py)."""
    from django.db import connection

    now = (end - 60) // 3600 * 3600
    with connection.cursor() as cur:
        for hour in (now - 3600, now):
            cur.execute(
                "INSERT INTO apm_stalehour (organization_id, hour) VALUES (%s, to_timestamp(%s)) "
                "ON CONFLICT DO NOTHING",
                [org.pk, hour],
            )


def measure(org, accept, now, runs):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apm.prometheus import exposition

    clear_cache()
    t0 = time.perf_counter()
    with CaptureQueriesContext(connection) as ctx:
        body, _ = exposition(org, accept, now)
    cold = (time.perf_counter() - t0) * 1000
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        exposition(org, accept, now)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, math.ceil(0.95 * len(times)) - 1)]
    series = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
    return statistics.median(times), p95, cold, len(ctx.captured_queries), len(body), series


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--apps", type=int, default=APPS, choices=range(1, APPS + 1), metavar=f"1..{APPS}")
    args = parser.parse_args()

    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    from tenants.models import Organization

    call_command("migrate", verbosity=0)
    org = Organization.objects.filter(slug="bench").first()
    if org is None or args.reseed:
        org, _, _ = Seeder(args.days, random.Random(42), args.apps).run()
    else:
        print(f"reusing the seeded data set of {org.created_at:%Y-%m-%d %H:%M} (--reseed to redo)")
    end = data_end(org)
    mark_recent_hours_stale(org, end)
    print(f"\nexposition at {time.strftime('%H:%M', time.gmtime(end))} UTC: median and p95 of {args.runs} runs "
          "after a first, cold-cache one")
    print("load average at start (the machine is shared): " + ", ".join(f"{x:.1f}" for x in os.getloadavg()))
    print(f"{'format':12} {'median ms':>10} {'p95 ms':>8} {'cold ms':>8} {'queries':>8} {'bytes':>9} {'samples':>8}")
    for name, accept in FORMATS.items():
        median, p95, cold, queries, size, series = measure(org, accept, end, args.runs)
        print(f"{name:12} {median:10.1f} {p95:8.1f} {cold:8.1f} {queries:8d} {size:9,d} {series:8,d}", flush=True)
    print("load average at end: " + ", ".join(f"{x:.1f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
