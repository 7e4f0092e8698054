"""Periodic work of the web UI (scheduled in frontend/schedule.py)."""

import time

from celery import shared_task
from django.db import OperationalError

from apm import queries

# Minutes whose quantiles get warmed on each run: those that closed since about the last
# run, with overlap so that a late or skipped run leaves no gap.
WARM_WINDOW_SECONDS = 180


@shared_task(
    name="frontend.warm_chart_cache",
    queue="celery",
    time_limit=55,
    soft_time_limit=50,
    ignore_result=True,
    autoretry_for=(OperationalError,),
    retry_backoff=5,
    max_retries=2,
)
def warm_chart_cache():
    """Cache the per-minute percentiles of every app's charts as their minutes close."""
    closed_until = time.time() - queries.CLOSED_AFTER - 60
    return queries.warm_app_quantiles(closed_until - WARM_WINDOW_SECONDS, closed_until)
