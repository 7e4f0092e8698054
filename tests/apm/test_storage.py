"""Storage settings of the large per-payload rows (apm/migrations/0004_cheaper_toast.py)."""

import datetime as dt
import json

import pytest
from django.db import connection
from django.utils import timezone

from apm import partitions


def _column_storage(table, column):
    with connection.cursor() as cur:
        cur.execute(
            "SELECT attstorage, attcompression, atttypid::regtype::text FROM pg_attribute WHERE attrelid = %s::regclass AND attname = %s",
            [table, column],
        )
        return cur.fetchone()


@pytest.mark.django_db
def test_new_partitions_keep_the_cheap_toast_settings():
    # Event arrays barely compress: stored out of line uncompressed; trace JSON as bytes
    # (neither json nor jsonb: ingest validated it) with lz4.
    # A partition created later (by beat or a worker) must inherit both.
    day = dt.date.today() + dt.timedelta(days=partitions.AHEAD_DAYS + 5)
    partitions.ensure("apm_eventbatch", day)
    partitions.ensure("apm_trace", day)
    for column in ("transaction_ids", "end_times", "durations", "trace_ids"):
        assert _column_storage(partitions.partition_name("apm_eventbatch", day), column)[0] == "e"
    assert _column_storage(partitions.partition_name("apm_trace", day), "spans") == ("x", "l", "bytea")



@pytest.mark.django_db
def test_span_trees_round_trip_through_the_orm(org, app):
    from apm.models import Trace, Transaction

    now = timezone.now()
    partitions.ensure_days([now.date()])
    txn = Transaction.objects.for_org(org).create(organization=org, app=app, type="web", name="v")
    spans = [{"id": "a" * 16, "parent": None, "kind": "database", "name": "SELECT <b>1</b>", "offset": 0.0,
              "duration": 0.25, "attrs": {"db.statement": "SELECT \"x\" FROM t WHERE y = ?"}}]
    created = Trace.objects.for_org(org).create(
        organization=org, app=app, transaction=txn, trace_id="b" * 32, start=now, duration=0.3, spans=spans
    )
    assert Trace.objects.for_org(org).get(pk=created.pk, start=now).spans == spans
    with connection.cursor() as cur:
        cur.execute("SELECT convert_from(spans, 'UTF8') FROM apm_trace WHERE id = %s", [created.pk])
        assert json.loads(cur.fetchone()[0]) == spans  # stored as the JSON text, UTF-8
