"""What every alerting task shares: no results, and a bounded number of retries on a
dropped database connection (all of them are idempotent). Evaluation runs on the default
queue; deliveries are routed by CELERY_TASK_ROUTES (pulse/settings.py) to a queue of their
own, so a task's own queue option, which would win over the route, is left out of theirs."""

from django.db import OperationalError

ROUTED_TASK_OPTIONS = {
    "ignore_result": True,
    "autoretry_for": (OperationalError,),
    "retry_backoff": 5,
    "retry_jitter": True,
    "max_retries": 3,
}
TASK_OPTIONS = {**ROUTED_TASK_OPTIONS, "queue": "celery"}
