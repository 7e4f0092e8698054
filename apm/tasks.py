"""Periodic upkeep of the telemetry (scheduled in apm/schedule.py).

Every task is named, idempotent, bounded in time, retried on transient database
errors, and takes ids; the per-organisation work fans out from the beat tasks.
"""

import logging

from celery import shared_task
from django.conf import settings
from django.db import OperationalError, connection

from apm import downsample, partitions, stale_hours

log = logging.getLogger(__name__)

# Named queue: the default one, which the main worker consumes (deploy/: -Q celery).
_RETRY = {
    "queue": "celery",
    "autoretry_for": (OperationalError,),
    "retry_backoff": 5,
    "retry_jitter": True,
    "max_retries": 3,
}


@shared_task(name="apm.downsample_stale", time_limit=55, soft_time_limit=50, ignore_result=True, **_RETRY)
def downsample_stale():
    """Fan out: one downsample_org per organisation with hours marked by the ingest workers.

    The marks stay until their downsample commits: one that fails (or whose task is lost)
    is done again by the next run."""
    with connection.cursor() as cur:
        orgs = stale_hours.organisations(cur)
    for org_id in orgs:
        downsample_org.apply_async((org_id,), expires=300)
    return len(orgs)


@shared_task(name="apm.downsample_org", time_limit=300, soft_time_limit=280, ignore_result=True, **_RETRY)
def downsample_org(org_id, hours=()):
    """Recompute hour and day rows of one organisation: its marked hours, and ``hours``
    (hour starts in unix seconds)."""
    return downsample.downsample_stale(org_id, hours)


@shared_task(name="apm.maintain_partitions", time_limit=600, soft_time_limit=580, ignore_result=True, **_RETRY)
def maintain_partitions():
    created, dropped = partitions.maintain()
    if created or dropped:
        log.info("partitions created %s, dropped %s", created, dropped)
    return {"created": created, "dropped": dropped}


# (table, time column, setting with the retention in days) of the unpartitioned tables
RETAINED = [
    ("apm_transactionhour", "time", "RETENTION_HOUR_DAYS"),
    ("apm_apphour", "time", "RETENTION_HOUR_DAYS"),
    ("apm_instancehour", "time", "RETENTION_HOUR_DAYS"),
    ("apm_transactionday", "time", "RETENTION_DAY_DAYS"),
    ("apm_appday", "time", "RETENTION_DAY_DAYS"),
    ("apm_errorminute", "time", "RETENTION_MINUTE_DAYS"),
    ("apm_instanceminute", "time", "RETENTION_MINUTE_DAYS"),
    ("apm_errorsample", "time", "RETENTION_EVENT_DAYS"),
    ("apm_errorgroup", "last_seen", "RETENTION_HOUR_DAYS"),
    ("apm_deployment", "time", "RETENTION_DAY_DAYS"),
    ("tenants_auditentry", "created_at", "RETENTION_AUDIT_DAYS"),
]
_CHUNK = 10_000


@shared_task(name="apm.enforce_retention", time_limit=1800, soft_time_limit=1780, ignore_result=True, **_RETRY)
def enforce_retention():
    """Drop old partitions whole; delete old rows of the small tables in short chunks."""
    maintain_partitions()
    deleted = {}
    with connection.cursor() as cur:
        for table, column, setting in RETAINED:
            days = getattr(settings, setting)
            total = 0
            while True:
                # Short chunks: each DELETE holds its locks only briefly.
                cur.execute(
                    f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} "
                    f"WHERE {column} < now() - make_interval(days => %s) LIMIT %s)",
                    [days, _CHUNK],
                )
                total += cur.rowcount
                if cur.rowcount < _CHUNK:
                    break
            deleted[table] = total
    return deleted
