"""Storage settings of the large per-payload rows (apm/migrations/0004_cheaper_toast.py)."""

import datetime as dt

import pytest
from django.db import connection

from apm import partitions


def _column_storage(table, column):
    with connection.cursor() as cur:
        cur.execute(
            "SELECT attstorage, attcompression FROM pg_attribute WHERE attrelid = %s::regclass AND attname = %s",
            [table, column],
        )
        return cur.fetchone()


@pytest.mark.django_db
def test_new_partitions_keep_the_cheap_toast_settings():
    # Event arrays barely compress: stored out of line uncompressed; trace JSON with lz4.
    # A partition created later (by beat or a worker) must inherit both.
    day = dt.date.today() + dt.timedelta(days=partitions.AHEAD_DAYS + 5)
    partitions.ensure("apm_eventbatch", day)
    partitions.ensure("apm_trace", day)
    for column in ("transaction_ids", "end_times", "durations", "trace_ids"):
        assert _column_storage(partitions.partition_name("apm_eventbatch", day), column)[0] == "e"
    assert _column_storage(partitions.partition_name("apm_trace", day), "spans") == ("x", "l")
