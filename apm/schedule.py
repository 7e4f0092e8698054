"""Periodic upkeep of the telemetry (the tasks are in apm/tasks.py)."""

from celery.schedules import crontab

PERIODIC_TASKS = {
    "apm-downsample": {"task": "apm.downsample_stale", "schedule": crontab(minute="*"), "options": {"expires": 50}},
    "apm-partitions": {"task": "apm.maintain_partitions", "schedule": crontab(minute="7"), "options": {"expires": 3000}},
    "apm-retention": {"task": "apm.enforce_retention", "schedule": crontab(minute="17"), "options": {"expires": 3000}},
}
