"""Daily range partitions of the high-volume tables (created in migration 0001).

Beat creates partitions a few days ahead and drops those past retention, whole (no
row-by-row DELETE under the ingest workers). Workers also ensure the days of each
batch exist, once per process per day, so a late beat never stops ingest.
"""

import datetime as dt
import re

from django.conf import settings
from django.db import connection

# table -> setting naming its retention in days
PARTITIONED = {
    "apm_transactionminute": "RETENTION_MINUTE_DAYS",
    "apm_appminute": "RETENTION_MINUTE_DAYS",
    "apm_eventbatch": "RETENTION_EVENT_DAYS",
    "apm_trace": "RETENTION_EVENT_DAYS",
    "apm_processedbatch": None,  # 2 days: payloads older than 24 h are refused at ingest
}
AHEAD_DAYS = 3
_NAME = re.compile(r"^(?P<table>apm_[a-z]+)_p(?P<day>\d{8})$")

_known = set()  # (table, day) this process created or saw


def partition_name(table, day):
    return f"{table}_p{day:%Y%m%d}"


def retention_days(table):
    setting = PARTITIONED[table]
    return getattr(settings, setting) if setting else 2


def ensure(table, day):
    if (table, day) in _known:
        return
    nxt = day + dt.timedelta(days=1)
    with connection.cursor() as cur:
        cur.execute(
            f'CREATE TABLE IF NOT EXISTS "{partition_name(table, day)}" PARTITION OF "{table}" '
            f"FOR VALUES FROM ('{day.isoformat()}') TO ('{nxt.isoformat()}')"
        )
    _known.add((table, day))


def ensure_days(days):
    for day in days:
        for table in PARTITIONED:
            ensure(table, day)


def existing():
    """[(table, day)] of every partition of the partitioned tables."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = ANY(%s)",
            [list(PARTITIONED)],
        )
        out = []
        for (name,) in cur.fetchall():
            m = _NAME.match(name)
            if m:
                out.append((m["table"], dt.datetime.strptime(m["day"], "%Y%m%d").date()))
        return out


def maintain(today=None):
    """Create partitions up to AHEAD_DAYS ahead; drop those wholly past retention.

    Returns (created, dropped) partition names.
    """
    today = today or dt.datetime.now(dt.timezone.utc).date()
    created, dropped = [], []
    present = set(existing())
    for table in PARTITIONED:
        for delta in range(0, AHEAD_DAYS + 1):
            day = today + dt.timedelta(days=delta)
            if (table, day) not in present:
                ensure(table, day)
                created.append(partition_name(table, day))
    for table, day in sorted(present):
        # A partition holds [day, day+1); it goes once all of it is older than retention.
        if day + dt.timedelta(days=1) <= today - dt.timedelta(days=retention_days(table)):
            with connection.cursor() as cur:
                # Dropping a partition briefly locks its parent: never queue behind a long
                # query (and block ingest behind us); the next run tries again.
                cur.execute("SET lock_timeout = '5s'")
                try:
                    cur.execute(f'DROP TABLE IF EXISTS "{partition_name(table, day)}"')
                finally:
                    cur.execute("SET lock_timeout = 0")
            _known.discard((table, day))
            dropped.append(partition_name(table, day))
    return created, dropped
