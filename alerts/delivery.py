"""Notification deliveries: the Celery task that sends one Delivery, with retries.

Retries of a failing delivery are scheduled in the database (``next_retry_at``) and
picked up by a sweep every minute, not by Celery countdowns: with the Redis broker a
countdown longer than the visibility timeout would be redelivered and could send twice.
An attempt is counted and its retry scheduled before anything is sent, so an attempt
whose process is killed (a time limit, out of memory) still counts; after
ALERTS_DELIVERY_MAX_ATTEMPTS, or the channel kind's MAX_RETRY_AGE, the delivery is failed.
Kept apart from evaluation (alerts/tasks.py): incident actions queue deliveries, and
evaluation calls those actions. The task runs on its own queue (CELERY_TASK_ROUTES).
"""

import logging
import random
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from alerts import messages
from alerts.channels import DeliveryError, transport
from alerts.models import Delivery, DeliveryStatus
from alerts.task_options import ROUTED_TASK_OPTIONS, TASK_OPTIONS
from tenants.scoping import org_scope

log = logging.getLogger(__name__)

BACKOFF_BASE = 30
BACKOFF_CAP = 3600
ATTEMPT_TIME_LIMIT = 60


def backoff_seconds(attempts):
    """30 s, 1 min, 2 min, ... capped at an hour, with +-20 % jitter so retries spread out."""
    base = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, attempts - 1))
    return base * random.uniform(0.8, 1.2)


@shared_task(name="alerts.deliver", time_limit=ATTEMPT_TIME_LIMIT, soft_time_limit=45, **ROUTED_TASK_OPTIONS)
def deliver(delivery_id):
    delivery = _claim(delivery_id, timezone.now())
    if delivery is None:
        return None
    if delivery.status == DeliveryStatus.FAILED:
        return DeliveryStatus.FAILED
    with org_scope(delivery.organization):
        return _attempt(delivery)


def _claim(delivery_id, now):
    """Count an attempt and commit it, with its retry already due later; None: not due now.

    Until the attempt's outcome is saved, a duplicate task (sweep, redelivery) finds the
    retry not yet due and skips: the retry is never sooner than the attempt's time limit."""
    with transaction.atomic():
        # The row lock makes a duplicate task claiming at the same moment skip.
        delivery = (
            Delivery.objects.unscoped()
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("channel", "organization", "event__incident__app", "event__incident__condition")
            .filter(id=delivery_id)
            .first()
        )
        if delivery is None or delivery.status in (DeliveryStatus.SENT, DeliveryStatus.FAILED):
            return None
        if delivery.status == DeliveryStatus.RETRYING and delivery.next_retry_at and delivery.next_retry_at > now:
            return None
        if delivery.attempts >= settings.ALERTS_DELIVERY_MAX_ATTEMPTS:
            # The last attempt never recorded an outcome: its process died.
            delivery.status = DeliveryStatus.FAILED
            delivery.next_retry_at = None
            delivery.last_error = _gave_up(delivery.last_error or "the attempt did not finish", delivery.attempts)
            delivery.save(update_fields=["status", "next_retry_at", "last_error"])
            return delivery
        delivery.attempts += 1
        delivery.status = DeliveryStatus.RETRYING
        delivery.next_retry_at = now + timedelta(seconds=max(backoff_seconds(delivery.attempts), ATTEMPT_TIME_LIMIT))
        delivery.save(update_fields=["attempts", "status", "next_retry_at"])
        return delivery


def _gave_up(error, attempts):
    suffix = f" (gave up after {attempts} attempts)"
    return error[: 500 - len(suffix)] + suffix


def _attempt(delivery):
    channel = delivery.channel
    kind = transport(channel.kind)
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
        next_at = timezone.now() + timedelta(seconds=backoff_seconds(delivery.attempts))
        attempts_left = delivery.attempts < settings.ALERTS_DELIVERY_MAX_ATTEMPTS
        if retryable and attempts_left and next_at < delivery.created_at + kind.MAX_RETRY_AGE:
            delivery.status = DeliveryStatus.RETRYING
            delivery.next_retry_at = next_at
        else:
            delivery.status = DeliveryStatus.FAILED
            delivery.next_retry_at = None
            if retryable and not attempts_left:
                delivery.last_error = _gave_up(delivery.last_error, delivery.attempts)
        log.info("delivery %s attempt %d failed: %s", delivery.id, delivery.attempts, delivery.last_error)
    else:
        delivery.status = DeliveryStatus.SENT
        delivery.sent_at = timezone.now()
        delivery.response_status = status
        delivery.last_error = ""
        delivery.next_retry_at = None
    delivery.save(update_fields=["status", "sent_at", "response_status", "last_error", "next_retry_at"])
    return delivery.status


@shared_task(name="alerts.retry_due_deliveries", time_limit=50, soft_time_limit=45, **TASK_OPTIONS)
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
