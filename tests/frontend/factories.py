"""Monitoring objects of one app, for the route sweep (tests/test_route_sweep.py)."""

import uuid

from django.utils import timezone

from apm import partitions
from apm.models import ErrorGroup, Trace, Transaction


def transaction(org, app):
    txn, _ = Transaction.objects.for_org(org).get_or_create(
        organization=org, app=app, type="web", name="sweep.view"
    )
    return txn


def trace_id(org, app):
    now = timezone.now()
    partitions.ensure_days([now.date()])
    trace = Trace.objects.for_org(org).create(
        organization=org,
        app=app,
        transaction=transaction(org, app),
        trace_id=uuid.uuid4().hex,
        start=now,
        duration=0.1,
        span_count=0,
        spans=[],
    )
    return trace.trace_id


def error_group(org, app):
    now = timezone.now()
    group, _ = ErrorGroup.objects.for_org(org).get_or_create(
        organization=org,
        app=app,
        fingerprint="0" * 40,
        defaults={"error_class": "ValueError", "message": "sweep", "first_seen": now, "last_seen": now, "count": 1},
    )
    return group
