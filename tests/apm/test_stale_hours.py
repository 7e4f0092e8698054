"""Late data reaches its hour and day rollups: the ingest batch marks exactly the hours it
applied, in its transaction, and a mark goes only when its downsample commits."""

import datetime as dt
import time

import psycopg
import pytest
from django.db import connection

from apm import stale_hours
from apm.models import AppDay, AppHour, StaleHour
from apm.tasks import downsample_stale
from pulse.celery import app as celery_app
from tests.ingest import payloads as P
from tests.ingest.conftest import drain

UTC = dt.timezone.utc


def post(client, key, p):
    r = client.post("/api/v1/ingest", P.body(p), content_type="application/json", **P.headers(key))
    assert r.status_code == 202, r.content


def marked_hours(org):
    return sorted(int(m.hour.timestamp()) for m in StaleHour.objects.for_org(org))


@pytest.fixture
def eager():
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture
def late_minute():
    """A minute five hours ago: no hour that beat would recompute on its own."""
    return (int(time.time()) - 5 * 3600) // 60 * 60


@pytest.mark.django_db
def test_a_batch_marks_exactly_the_hours_it_applied(client, org, ingest_key, consumer, late_minute):
    now = int(time.time())
    p = P.payload("shop", metrics=[P.metric("a", [0.1], late_minute), P.metric("a", [0.2], now // 60 * 60 - 60)],
                  inst=P.instance(now - 2 * 3600))
    post(client, ingest_key, p)
    drain(consumer)
    hours = {late_minute // 3600 * 3600, (now // 60 * 60 - 60) // 3600 * 3600, (now - 2 * 3600) // 3600 * 3600}
    assert marked_hours(org) == sorted(hours)
    with connection.cursor() as cur:
        stale_hours.clear(cur, org.pk, stale_hours.marked(cur, org.pk))
    post(client, ingest_key, p)  # the same batch again: the ledger drops it, and it marks nothing
    drain(consumer)
    assert marked_hours(org) == []


@pytest.mark.django_db
def test_a_batch_after_the_downsample_read_the_marks_keeps_its_mark(client, org, ingest_key, consumer, late_minute):
    post(client, ingest_key, P.simple(minute=late_minute, seed=1))
    drain(consumer)
    with connection.cursor() as cur:
        read = stale_hours.marked(cur, org.pk)
    post(client, ingest_key, P.simple(minute=late_minute + 60, seed=2))  # same hour, committed meanwhile
    drain(consumer)
    with connection.cursor() as cur:
        stale_hours.clear(cur, org.pk, read)
    assert marked_hours(org) == [late_minute // 3600 * 3600]


@pytest.mark.django_db(transaction=True)
def test_late_data_is_rolled_up_even_when_a_downsample_fails_midway(client, org, ingest_key, consumer, late_minute,
                                                                   eager):
    hour = dt.datetime.fromtimestamp(late_minute // 3600 * 3600, UTC)
    post(client, ingest_key, P.simple(minute=late_minute, n=7))
    drain(consumer)
    assert marked_hours(org) == [int(hour.timestamp())]
    db = connection.settings_dict
    # The day rollups are locked by another session: the downsample writes the hour rows,
    # then is refused at the day rows and rolls back.
    with psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"]) as holder:
        holder.execute("LOCK TABLE apm_appday IN ACCESS EXCLUSIVE MODE")
        with connection.cursor() as cur:
            cur.execute("SET lock_timeout = '200ms'")
        try:
            downsample_stale()
        finally:
            with connection.cursor() as cur:
                cur.execute("RESET lock_timeout")
        holder.rollback()
    assert not AppHour.objects.for_org(org).exists()
    assert marked_hours(org) == [int(hour.timestamp())]  # kept for the next run
    assert downsample_stale() == 1
    assert AppHour.objects.for_org(org).get(time=hour).count == 7
    day = AppDay.objects.for_org(org).get(time=hour.replace(hour=0))
    assert day.count == 7
    assert marked_hours(org) == []
    assert downsample_stale() == 0
