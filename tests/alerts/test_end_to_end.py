"""End to end with a real Celery worker process: payloads through /api/v1/ingest, the
worker's ingest consumer rolls them up, the worker evaluates and notifies, a local
HTTP server receives signed webhooks."""

import hashlib
import hmac
import json
import queue
from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import AppMute, Delivery, DeliveryStatus, EventKind, Incident
from alerts.tasks import evaluate_all
from apm.models import AppMinute
from tests.alerts.conftest import (
    durations_with_p95,
    make_condition,
    make_webhook,
    minute_floor,
    post_payload,
    telemetry,
    wait_for,
)
from tests.ingest.conftest import make_key

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def verify(request, secret):
    """The receiver's side of docs/webhooks.md."""
    timestamp = request["headers"]["X-Pulse-Timestamp"]
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + request["body"], hashlib.sha256).hexdigest()
    given = request["headers"]["X-Pulse-Signature"].removeprefix("v1=")
    return hmac.compare_digest(expected, given)


def send_minutes(client, key, app, minutes, p95):
    for minute in minutes:
        post_payload(client, key, telemetry(app.name, minute, durations_with_p95(p95)))


def wait_rolled_up(org, app, minutes):
    def done():
        have = set(AppMinute.objects.for_org(org).filter(app=app, time__in=minutes).values_list("time", flat=True))
        return have >= set(minutes)

    wait_for(done, message="the worker to roll up the payloads")


def evaluate(minute):
    # What beat does every minute, for a chosen minute (the worker runs it and its fan-out).
    evaluate_all.delay(minute.isoformat())


@pytest.fixture
def ingest_key(org, worker_stream):
    return make_key(org)


def test_it_opens_escalates_acknowledges_and_resolves_with_signed_webhooks(
    celery_worker, client, org, app, member_client, ingest_key, receiver
):
    channel = make_webhook(org, receiver.url)
    condition = make_condition(org, app, [channel], window_minutes=3)
    base = minute_floor() - timedelta(minutes=20)
    m = lambda i: base + timedelta(minutes=i)  # noqa: E731

    # p95 ~ 500 ms for three minutes: over the warning threshold (300 ms), under critical.
    send_minutes(client, ingest_key, app, [m(-3), m(-2), m(-1)], 0.5)
    wait_rolled_up(org, app, [m(-3), m(-2), m(-1)])
    evaluate(m(0))
    opened = receiver.get()
    assert verify(opened, channel.secret)
    body = json.loads(opened["body"])
    assert body["event"] == "incident.opened" and body["incident"]["severity"] == "warning"
    assert body["incident"]["value"] == pytest.approx(500, rel=0.02)
    incident = Incident.objects.for_org(org).get(condition=condition)
    assert body["incident"]["id"] == str(incident.id)
    assert incident.started_at == m(-3)

    # A member acknowledges in the UI.
    response = member_client.post(f"/o/{org.slug}/alerts/incidents/{incident.id}/acknowledge")
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.acknowledged_by.email == "bob@example.com"

    # Then p95 ~ 2 s: critical.
    send_minutes(client, ingest_key, app, [m(0), m(1), m(2)], 2.0)
    wait_rolled_up(org, app, [m(0), m(1), m(2)])
    evaluate(m(3))
    escalated = receiver.get()
    assert verify(escalated, channel.secret)
    assert json.loads(escalated["body"])["event"] == "incident.escalated"
    assert json.loads(escalated["body"])["incident"]["severity"] == "critical"

    # Recovery for the whole window resolves it.
    send_minutes(client, ingest_key, app, [m(3), m(4), m(5)], 0.05)
    wait_rolled_up(org, app, [m(3), m(4), m(5)])
    evaluate(m(6))
    resolved = receiver.get()
    assert verify(resolved, channel.secret)
    assert json.loads(resolved["body"])["event"] == "incident.resolved"
    incident.refresh_from_db()
    assert incident.resolved_at is not None and incident.resolved_by is None

    # The same minute again (a duplicate beat) changes nothing and sends nothing.
    evaluate(m(6))
    wait_for(
        lambda: all(d.status == DeliveryStatus.SENT for d in Delivery.objects.for_org(org)),
        message="deliveries to settle",
    )
    with pytest.raises(queue.Empty):
        receiver.get(timeout=3)
    kinds = list(incident.events.values_list("kind", flat=True))
    assert kinds == [EventKind.OPENED, EventKind.ACKNOWLEDGED, EventKind.ESCALATED, EventKind.RESOLVED]
    assert Delivery.objects.for_org(org).count() == 3
    assert Incident.objects.for_org(org).count() == 1


def test_it_fires_no_data_when_the_app_stops_reporting(celery_worker, client, org, app, ingest_key, receiver):
    channel = make_webhook(org, receiver.url)
    condition = make_condition(
        org, app, [channel], metric="no_data", warning_threshold=None, critical_threshold=None, window_minutes=2
    )
    base = minute_floor() - timedelta(minutes=10)
    m = lambda i: base + timedelta(minutes=i)  # noqa: E731
    send_minutes(client, ingest_key, app, [m(-2), m(-1)], 0.05)
    wait_rolled_up(org, app, [m(-2), m(-1)])
    evaluate(m(0))
    # Reporting: the next window (m(0), m(1)) is silent.
    evaluate(m(2))
    fired = json.loads(receiver.get()["body"])
    assert fired["event"] == "incident.opened" and fired["incident"]["severity"] == "critical"
    incident = Incident.objects.for_org(org).get(condition=condition)
    assert incident.started_at == m(0)
    # Data again: resolved.
    send_minutes(client, ingest_key, app, [m(2)], 0.05)
    wait_rolled_up(org, app, [m(2)])
    evaluate(m(3))
    assert json.loads(receiver.get()["body"])["event"] == "incident.resolved"


def test_a_muted_app_opens_incidents_without_notifying(celery_worker, client, org, app, owner, ingest_key, receiver):
    channel = make_webhook(org, receiver.url)
    condition = make_condition(org, app, [channel], window_minutes=2)
    AppMute.objects.for_org(org).create(
        organization=org, app=app, ends_at=timezone.now() + timedelta(hours=1), reason="deploy", created_by=owner
    )
    base = minute_floor() - timedelta(minutes=10)
    m = lambda i: base + timedelta(minutes=i)  # noqa: E731
    send_minutes(client, ingest_key, app, [m(-2), m(-1)], 2.0)
    wait_rolled_up(org, app, [m(-2), m(-1)])
    evaluate(m(0))
    incident = wait_for(lambda: Incident.objects.for_org(org).filter(condition=condition).first(), message="the incident")
    assert incident.muted and incident.severity == "critical"
    assert incident.events.get().not_notified_reason == "muted"
    with pytest.raises(queue.Empty):
        receiver.get(timeout=3)
    assert not Delivery.objects.for_org(org).exists()
