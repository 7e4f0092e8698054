"""What every alerting task shares: the queue the worker consumes (Procfile: no -Q), no
results, and retries on a dropped database connection (all of them are idempotent)."""

from django.db import OperationalError

TASK_OPTIONS = {
    "queue": "celery",
    "ignore_result": True,
    "autoretry_for": (OperationalError,),
    "retry_backoff": 5,
    "retry_jitter": True,
    "max_retries": 3,
}
