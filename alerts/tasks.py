"""Celery tasks of alerting: per-minute evaluation fanned out per organisation, and
notification deliveries with retries.

Tasks take ids, re-fetch, and exit quietly when the object is gone. Retries of a
failing delivery are scheduled in the database (``next_retry_at``) and picked up by a
sweep every minute, not by Celery countdowns: with the Redis broker a countdown longer
than the visibility timeout would be redelivered and could send twice.
"""

import logging
import random
import time
from datetime import datetime, timedelta, timezone as dt_timezone

from celery import shared_task
from django.conf import settings
from django.db import OperationalError, transaction
from django.db.models import Q
from django.utils import timezone

from alerts import evaluation, messages
from alerts.channels import DeliveryError, transport
from alerts.models import SLO, Condition, Delivery, DeliveryStatus
from tenants.models import Organization
from tenants.scoping import org_scope

log = logging.getLogger(__name__)

# Every task: the queue the worker consumes (Procfile: no -Q), no results, and retries
# on a dropped database connection (all of them are idempotent).
_TASK = {
    "queue": "celery",
    "ignore_result": True,
    "autoretry_for": (OperationalError,),
    "retry_backoff": 5,
    "retry_jitter": True,
    "max_retries": 3,
}
EVALUATION_BUDGET_SECONDS = 40  # per organisation and minute; the rest waits for the next minute
BACKOFF_BASE = 30
BACKOFF_CAP = 3600


def current_minute(now=None):
    now = now or timezone.now()
    return now.replace(second=0, microsecond=0)


@shared_task(name="alerts.evaluate_all", time_limit=50, soft_time_limit=45, **_TASK)
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


@shared_task(name="alerts.evaluate_org", time_limit=60, soft_time_limit=55, **_TASK)
def evaluate_org(org_id, minute_end):
    org = Organization.objects.filter(id=org_id).first()
    if org is None:
        return None
    minute = datetime.fromisoformat(minute_end)
    if minute.tzinfo is None:
        minute = minute.replace(tzinfo=dt_timezone.utc)
    with org_scope(org):
        return evaluation.evaluate_org(org, minute, deadline=time.monotonic() + EVALUATION_BUDGET_SECONDS)


def backoff_seconds(attempts):
    """30 s, 1 min, 2 min, ... capped at an hour, with +-20 % jitter so retries spread out."""
    base = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, attempts - 1))
    return base * random.uniform(0.8, 1.2)


@shared_task(name="alerts.deliver", time_limit=60, soft_time_limit=45, **_TASK)
def deliver(delivery_id):
    with transaction.atomic():
        # The row lock makes a duplicate task (sweep + first attempt) wait out or skip.
        delivery = (
            Delivery.objects.unscoped()
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("channel", "organization", "event__incident__app", "event__incident__condition")
            .filter(id=delivery_id)
            .first()
        )
        if delivery is None or delivery.status in (DeliveryStatus.SENT, DeliveryStatus.FAILED):
            return None
        now = timezone.now()
        if delivery.status == DeliveryStatus.RETRYING and delivery.next_retry_at and delivery.next_retry_at > now:
            return None
        with org_scope(delivery.organization):
            return _attempt(delivery, now)


def _attempt(delivery, now):
    channel = delivery.channel
    kind = transport(channel.kind)
    delivery.attempts += 1
    try:
        status = kind.send(channel, messages.for_delivery(delivery))
    except Exception as exc:
        if isinstance(exc, DeliveryError):
            error, retryable, status = str(exc), exc.retryable, exc.status
        else:
            log.exception("delivery %s to channel %s crashed", delivery.id, channel.id)
            error, retryable, status = f"{type(exc).__name__}: {exc}", True, None
        delivery.last_error = error[:500]
        delivery.response_status = status
        next_at = now + timedelta(seconds=backoff_seconds(delivery.attempts))
        if retryable and next_at < delivery.created_at + kind.MAX_RETRY_AGE:
            delivery.status = DeliveryStatus.RETRYING
            delivery.next_retry_at = next_at
        else:
            delivery.status = DeliveryStatus.FAILED
            delivery.next_retry_at = None
        log.info("delivery %s attempt %d failed: %s", delivery.id, delivery.attempts, delivery.last_error)
    else:
        delivery.status = DeliveryStatus.SENT
        delivery.sent_at = timezone.now()
        delivery.response_status = status
        delivery.last_error = ""
        delivery.next_retry_at = None
    delivery.save(update_fields=["attempts", "status", "sent_at", "response_status", "last_error", "next_retry_at"])
    return delivery.status


@shared_task(name="alerts.retry_due_deliveries", time_limit=50, soft_time_limit=45, **_TASK)
def retry_due_deliveries(limit=1000):
    """Beat, every minute: queue retries that are due, and first attempts whose queueing was lost."""
    now = timezone.now()
    due = Delivery.objects.unscoped().filter(
        Q(status=DeliveryStatus.RETRYING, next_retry_at__lte=now)
        | Q(status=DeliveryStatus.PENDING, created_at__lte=now - timedelta(minutes=2))
    )
    ids = list(due.order_by("next_retry_at").values_list("id", flat=True)[:limit])
    for delivery_id in ids:
        deliver.delay(str(delivery_id))
    return len(ids)
