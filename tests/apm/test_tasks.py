"""Beat upkeep: partitions ahead and dropped whole, retention of the small tables, downsampling fan-out."""

import datetime as dt
import time

import pytest
from django.db import connection
from django.utils import timezone

from apm import partitions
from pulse.celery import app as celery_app
from apm.models import AppHour, AppMinute, InstanceHour
from apm.tasks import downsample_stale, enforce_retention
from tests.ingest import payloads as P
from tests.ingest.conftest import drain

UTC = dt.timezone.utc


def partition_days(table):
    return {day for t, day in partitions.existing() if t == table}


@pytest.mark.django_db
def test_it_creates_partitions_ahead_and_drops_expired_ones_whole():
    today = dt.datetime.now(UTC).date()
    old = today - dt.timedelta(days=30)
    partitions.ensure("apm_eventbatch", old)
    assert old in partition_days("apm_eventbatch")
    created, dropped = partitions.maintain(today=today)
    assert f"apm_eventbatch_p{old:%Y%m%d}" in dropped
    assert old not in partition_days("apm_eventbatch")
    for table in partitions.PARTITIONED:
        assert today + dt.timedelta(days=partitions.AHEAD_DAYS) in partition_days(table)
    # Minute rollups are kept 8 days, events 7: yesterday's partitions stay.
    assert today - dt.timedelta(days=1) in partition_days("apm_transactionminute")


@pytest.mark.django_db
def test_it_deletes_rows_past_retention(org, app, settings):
    settings.RETENTION_HOUR_DAYS = 90
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    for age in (0, 89, 91, 200):
        AppHour.objects.for_org(org).create(organization=org, app=app, txn_type="web",
                                            time=now - dt.timedelta(days=age), count=1)
        InstanceHour.objects.for_org(org).create(
            organization=org, app=app, host="web-1", pid=1, time=now - dt.timedelta(days=age), samples=1, cpu_sum=1.0,
            cpu_max=1.0, memory_sum=1, memory_max=1, last_time=now - dt.timedelta(days=age), last_cpu_percent=1.0,
            last_memory_bytes=1,
        )
    result = enforce_retention()
    assert result["apm_apphour"] == result["apm_instancehour"] == 2
    ages = sorted((now - h.time).days for h in AppHour.objects.for_org(org))
    assert ages == [0, 89]
    assert sorted((now - h.time).days for h in InstanceHour.objects.for_org(org)) == [0, 89]


@pytest.mark.django_db
def test_it_downsamples_what_the_workers_touched(client, org, ingest_key, consumer):
    celery_app.conf.task_always_eager = True
    try:
        minute = int(time.time()) // 60 * 60 - 60
        p = P.simple(minute=minute, n=7)
        r = client.post("/api/v1/ingest", P.body(p), content_type="application/json", **P.headers(ingest_key))
        assert r.status_code == 202
        drain(consumer)
        assert downsample_stale() >= 1
    finally:
        celery_app.conf.task_always_eager = False
    hour = AppHour.objects.for_org(org).get()
    assert hour.count == 7 == sum(m.count for m in AppMinute.objects.for_org(org))
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM apm_appday WHERE organization_id = %s", [org.pk])
        assert cur.fetchone()[0] == 1
