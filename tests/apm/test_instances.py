"""Instance series: per minute on short ranges; hour rows (summed from the minutes by the
downsampling) for the whole hours of long ones, minute rows at their edges."""

import datetime as dt
import time

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apm import queries
from apm.downsample import downsample_hours
from apm.models import InstanceHour, InstanceMinute
from tests.frontend.seed import seed_app

UTC = dt.timezone.utc


def samples(org, app, host, pid, start, minutes, cpu, memory):
    InstanceMinute.objects.for_org(org).bulk_create(
        InstanceMinute(
            organization=org, app=app, host=host, pid=pid, time=dt.datetime.fromtimestamp(start + 60 * i, UTC),
            cpu_percent=cpu(i), memory_bytes=memory(i), threads=i, agent_version=f"0.{i}",
        )
        for i in range(minutes)
    )


@pytest.mark.django_db
def test_it_keeps_every_minute_of_a_short_range(org, app):
    start = 1_790_000_040 // 60 * 60
    samples(org, app, "web-1", 10, start, 30, cpu=lambda i: float(i), memory=lambda i: 1000 + i)
    (proc,) = queries.instances(org, app, start, start + 30 * 60)["instances"]
    assert [p["cpu_percent"] for p in proc["series"]] == [float(i) for i in range(30)]
    assert (proc["last_seen"], proc["cpu_percent"], proc["memory_bytes"]) == (start + 29 * 60, 29.0, 1029)


@pytest.mark.django_db
def test_the_downsampling_sums_each_process_hour_and_keeps_its_newest_sample(org, app):
    hour = int(time.time()) // 3600 * 3600 - 3 * 3600
    samples(org, app, "web-1", 10, hour + 60 * 5, 50, cpu=lambda i: float(i % 7), memory=lambda i: 100 + (i * 37) % 50)
    downsample_hours(org.id, [hour])
    downsample_hours(org.id, [hour])  # idempotent
    (row,) = InstanceHour.objects.for_org(org).filter(app=app)
    cpus, mems = [float(i % 7) for i in range(50)], [100 + (i * 37) % 50 for i in range(50)]
    assert row.time == dt.datetime.fromtimestamp(hour, UTC) and row.samples == 50
    assert (row.cpu_sum, row.cpu_max, row.memory_sum, row.memory_max) == (sum(cpus), max(cpus), sum(mems), max(mems))
    assert row.last_time == dt.datetime.fromtimestamp(hour + 60 * 54, UTC)
    assert (row.last_cpu_percent, row.last_memory_bytes, row.threads, row.agent_version) == (cpus[-1], mems[-1], 49, "0.49")


@pytest.mark.django_db
def test_long_ranges_read_hour_rows_and_stay_exact_at_the_edges(org, app, outsider_org):
    start = int(time.time()) // 3600 * 3600 - 2 * 86400 + 17 * 60  # mid-hour, within minute retention
    minutes = 2 * 1440 - 60
    samples(org, app, "web-1", 10, start, minutes, cpu=lambda i: float(i % 2), memory=lambda i: i)
    samples(org, app, "web-2", 11, start + 60 * (minutes - 5), 5, cpu=lambda i: 50.0, memory=lambda i: 7)
    downsample_hours(org.id, range(start // 3600 * 3600, start + minutes * 60, 3600))
    until = start + minutes * 60
    with CaptureQueriesContext(connection) as ctx:
        out = queries.instances(org, app, start, until)["instances"]
    assert any("apm_instancehour" in q["sql"] for q in ctx.captured_queries)
    assert [(p["host"], p["pid"]) for p in out] == [("web-1", 10), ("web-2", 11)]  # latest first, then by name
    series = out[0]["series"]
    # Hour buckets, like the other series of a two-day range.
    assert [p["t"] for p in series] == list(range(start // 3600 * 3600, until, 3600))
    # The first hour holds only the 43 minutes from ``start``: its CPU averages those, memory is their peak.
    no_runtime = {"gc_percent": None, "loop_lag": None, "db_connections": None}  # an agent without them
    assert series[0] == {"t": start // 3600 * 3600, "cpu_percent": pytest.approx(21 / 43), "memory_bytes": 42,
                         **no_runtime}
    assert series[1] == {"t": series[0]["t"] + 3600, "cpu_percent": 0.5, "memory_bytes": 42 + 60, **no_runtime}
    assert (out[0]["last_seen"], out[0]["memory_bytes"], out[0]["threads"]) == (until - 60, minutes - 1, minutes - 1)
    assert [p["cpu_percent"] for p in out[1]["series"]] == [50.0]
    assert queries.instances(outsider_org, app, start, until) == {"instances": []}


@pytest.mark.django_db
def test_the_instances_page_reads_cached_buckets_equal_to_a_fresh_read(org, app):
    cache.clear()
    facts = seed_app(org, app, minutes=150)
    until = queries.to_dt(facts["last_minute"] + 60)
    since = until - dt.timedelta(hours=30)
    fresh = queries.instances_overview(org, app, since, until, 3600)
    cached = queries.instances_overview(org, app, since, until, 3600)  # closed hours from the cache
    assert cache.get_many([f"apm:instb2:{app.id}:3600:{(facts['last_minute'] - 3 * 3600) // 3600 * 3600}"])
    strip = lambda rows: [{k: v for k, v in r.items() if k != "sample"} for r in rows]  # noqa: E731
    # Equal but for the order Postgres adds the open bucket's samples in (read alone when cached).
    assert len(cached[0]) == len(fresh[0]) and cached[1].keys() == fresh[1].keys()
    for a, b in zip(strip(cached[0]), strip(fresh[0])):
        assert a == {k: pytest.approx(v) if isinstance(v, float) else v for k, v in b.items()}
    for key, buckets in fresh[1].items():
        assert {t: pytest.approx(v) for t, v in cached[1][key].items()} == buckets
    assert sorted((r["host"], r["pid"]) for r in fresh[0]) == [("web-1", 101), ("web-2", 202)]
    by_minute = queries.instances_overview(org, app, until - dt.timedelta(minutes=150), until, 60)[0]
    assert sorted(r["minutes"] for r in fresh[0]) == sorted(r["minutes"] for r in by_minute) == [150, 150]
