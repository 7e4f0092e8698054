"""Celery tasks of alert evaluation: every minute, fanned out per organisation
(notification deliveries are alerts/delivery.py's).

Tasks take ids, re-fetch, and exit quietly when the object is gone.
"""

import time
from datetime import datetime, timezone as dt_timezone

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from alerts import evaluation
from alerts.models import SLO, Condition
from alerts.task_options import TASK_OPTIONS
from tenants.models import Organization
from tenants.scoping import org_scope

EVALUATION_BUDGET_SECONDS = 40  # per organisation and minute; the rest waits for the next minute


def current_minute(now=None):
    now = now or timezone.now()
    return now.replace(second=0, microsecond=0)


@shared_task(name="alerts.evaluate_all", time_limit=50, soft_time_limit=45, **TASK_OPTIONS)
def evaluate_all(minute_end=None):
    """Beat, every minute: one evaluate_org task per organisation with something to evaluate."""
    minute = datetime.fromisoformat(minute_end) if minute_end else current_minute()
    org_ids = set(Condition.objects.unscoped().filter(enabled=True).order_by().values_list("organization_id", flat=True).distinct())
    org_ids |= set(SLO.objects.unscoped().filter(alerts_enabled=True).order_by().values_list("organization_id", flat=True).distinct())
    delay = settings.ALERTS_EVALUATION_DELAY
    for org_id in sorted(org_ids):
        # Wait for the minute's last harvests to be aggregated; drop the task if it
        # could not start before the next minute's evaluation.
        evaluate_org.apply_async((org_id, minute.isoformat()), countdown=delay, expires=delay + 55)
    return len(org_ids)


@shared_task(name="alerts.evaluate_org", time_limit=60, soft_time_limit=55, **TASK_OPTIONS)
def evaluate_org(org_id, minute_end):
    org = Organization.objects.filter(id=org_id).first()
    if org is None:
        return None
    minute = datetime.fromisoformat(minute_end)
    if minute.tzinfo is None:
        minute = minute.replace(tzinfo=dt_timezone.utc)
    with org_scope(org):
        return evaluation.evaluate_org(org, minute, deadline=time.monotonic() + EVALUATION_BUDGET_SECONDS)
