"""Prometheus scrape benchmark: server time and SQL queries of GET /api/v1/metrics.

Seeds (once; --reseed to redo) bench/query.py's data set, by default one day of it for all ten
apps (500 transactions, 40 processes), marks the current and the previous hour as ingest
leaves them (read from their minute rows), then scrapes through Django's full request stack
(test client, in-process: server time, no network) in both formats and prints the median and
p95 milliseconds, the queries per scrape and the size of the answer.

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


def mark_recent_hours_stale(org):
    """The hours ingest is writing to are marked until the next downsample (apm/stale_hours.py)."""
    from django.db import connection

    now = int(time.time()) // 3600 * 3600
    with connection.cursor() as cur:
        for hour in (now - 3600, now):
            cur.execute(
                "INSERT INTO apm_stalehour (organization_id, hour) VALUES (%s, to_timestamp(%s)) "
                "ON CONFLICT DO NOTHING",
                [org.pk, hour],
            )


def measure(client, token, accept, runs):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    if accept:
        headers["HTTP_ACCEPT"] = accept
    clear_cache()
    t0 = time.perf_counter()
    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/api/v1/metrics", **headers)
    cold = (time.perf_counter() - t0) * 1000
    assert response.status_code == 200, response.content[:200]
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        client.get("/api/v1/metrics", **headers)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, math.ceil(0.95 * len(times)) - 1)]
    series = sum(1 for line in response.content.splitlines() if line and not line.startswith(b"#"))
    return statistics.median(times), p95, cold, len(ctx.captured_queries), len(response.content), series


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
    from django.test import Client

    from tenants import actions
    from tenants.models import Organization, TokenScope

    call_command("migrate", verbosity=0)
    org = Organization.objects.filter(slug="bench").first()
    if org is None or args.reseed:
        org, _, _ = Seeder(args.days, random.Random(42), args.apps).run()
    else:
        print(f"reusing the seeded data set of {org.created_at:%Y-%m-%d %H:%M} (--reseed to redo)")
    mark_recent_hours_stale(org)
    token = actions.create_api_token(org, "bench", TokenScope.READ, None).raw
    client = Client()
    print(f"\nGET /api/v1/metrics: median and p95 of {args.runs} runs after a first, cold-cache one")
    print("load average at start (the machine is shared): " + ", ".join(f"{x:.1f}" for x in os.getloadavg()))
    print(f"{'format':12} {'median ms':>10} {'p95 ms':>8} {'cold ms':>8} {'queries':>8} {'bytes':>9} {'samples':>8}")
    for name, accept in FORMATS.items():
        median, p95, cold, queries, size, series = measure(client, token, accept, args.runs)
        print(f"{name:12} {median:10.1f} {p95:8.1f} {cold:8.1f} {queries:8d} {size:9,d} {series:8,d}", flush=True)
    print("load average at end: " + ", ".join(f"{x:.1f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
