"""Instance series: per minute on short ranges, bucketed by Postgres on long ones."""

import datetime as dt

import pytest

from apm import queries
from apm.models import InstanceMinute

UTC = dt.timezone.utc


def samples(org, app, host, pid, start, minutes, cpu, memory):
    InstanceMinute.objects.for_org(org).bulk_create(
        InstanceMinute(
            organization=org, app=app, host=host, pid=pid, time=dt.datetime.fromtimestamp(start + 60 * i, UTC),
            cpu_percent=cpu(i), memory_bytes=memory(i),
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
def test_it_buckets_a_long_range_to_at_most_max_points(org, app, outsider_org):
    start = 1_790_000_040 // 60 * 60
    minutes = 2 * 1440
    samples(org, app, "web-1", 10, start, minutes, cpu=lambda i: float(i % 2), memory=lambda i: i)
    samples(org, app, "web-2", 11, start + 60 * (minutes - 5), 5, cpu=lambda i: 50.0, memory=lambda i: 7)
    out = queries.instances(org, app, start, start + minutes * 60)["instances"]
    assert [(p["host"], p["pid"]) for p in out] == [("web-1", 10), ("web-2", 11)]
    series = out[0]["series"]
    assert len(series) <= queries.MAX_POINTS
    # Two-minute buckets: CPU 0 and 1 average to 0.5, memory is the bucket's peak.
    assert series[0] == {"t": start, "cpu_percent": 0.5, "memory_bytes": 1}
    assert series[1]["t"] - series[0]["t"] == 120
    # Another organisation's rows never show.
    assert queries.instances(outsider_org, app, start, start + minutes * 60) == {"instances": []}
