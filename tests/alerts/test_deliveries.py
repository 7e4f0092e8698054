"""Delivery tasks run in process against a local receiver: retries, backoff, giving up, kinds."""

import json
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from alerts import actions
from alerts.channels import webhook
from alerts.models import ChannelKind, Delivery, DeliveryStatus, NotificationChannel
from alerts.delivery import backoff_seconds, deliver, retry_due_deliveries
from tests.alerts import factories
from tests.alerts.conftest import make_webhook

pytestmark = pytest.mark.django_db


def opened_delivery(org, app, channel, django_capture_on_commit_callbacks):
    incident = factories.incident(org, app)
    incident.condition.warning_channels.set([channel])
    with django_capture_on_commit_callbacks():
        actions.record_event(incident, "opened", "warning", value=400.0)
    return Delivery.objects.for_org(org).get(event__incident=incident)


def test_a_failing_webhook_is_retried_with_backoff_until_it_succeeds(org, app, receiver, django_capture_on_commit_callbacks):
    channel = make_webhook(org, receiver.url)
    delivery = opened_delivery(org, app, channel, django_capture_on_commit_callbacks)
    receiver.status = 503
    assert deliver(str(delivery.id)) == DeliveryStatus.RETRYING
    delivery.refresh_from_db()
    assert delivery.attempts == 1 and "HTTP 503" in delivery.last_error
    assert timedelta(seconds=20) < delivery.next_retry_at - timezone.now() < timedelta(seconds=40)
    # Not due yet: neither the sweep nor a duplicate task sends it.
    assert retry_due_deliveries() == 0
    assert deliver(str(delivery.id)) is None
    Delivery.objects.for_org(org).filter(id=delivery.id).update(next_retry_at=timezone.now() - timedelta(seconds=1))
    receiver.status = 200
    assert deliver(str(delivery.id)) == DeliveryStatus.SENT
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("sent", 2, 200)
    assert len(receiver.drain()) == 2
    # Sent is final: running the task again sends nothing.
    assert deliver(str(delivery.id)) is None
    assert receiver.drain() == []


def test_backoff_doubles_up_to_an_hour():
    assert 24 <= backoff_seconds(1) <= 36
    assert 48 <= backoff_seconds(2) <= 72
    assert 2880 <= backoff_seconds(30) <= 4320


def test_a_webhook_gives_up_after_24_hours(org, app, receiver, django_capture_on_commit_callbacks):
    channel = make_webhook(org, receiver.url)
    delivery = opened_delivery(org, app, channel, django_capture_on_commit_callbacks)
    Delivery.objects.for_org(org).filter(id=delivery.id).update(created_at=timezone.now() - timedelta(hours=24) + timedelta(seconds=10))
    receiver.status = 500
    assert deliver(str(delivery.id)) == DeliveryStatus.FAILED


def test_client_errors_are_not_retried(org, app, receiver, django_capture_on_commit_callbacks):
    channel = make_webhook(org, receiver.url)
    delivery = opened_delivery(org, app, channel, django_capture_on_commit_callbacks)
    receiver.status = 404
    assert deliver(str(delivery.id)) == DeliveryStatus.FAILED


def test_the_webhook_body_and_signature(org, app, receiver, django_capture_on_commit_callbacks):
    channel = make_webhook(org, receiver.url)
    delivery = opened_delivery(org, app, channel, django_capture_on_commit_callbacks)
    deliver(str(delivery.id))
    request = receiver.get(timeout=5)
    headers = request["headers"]
    assert headers["X-Pulse-Signature"] == "v1=" + webhook.sign(channel.secret, headers["X-Pulse-Timestamp"], request["body"])
    assert headers["X-Pulse-Delivery"] == str(delivery.id)
    body = json.loads(request["body"])
    assert body["event"] == "incident.opened"
    assert body["incident"]["app"] == app.name and body["incident"]["threshold"] == 300
    assert body["incident"]["url"].endswith(f"/o/{org.slug}/alerts/incidents/{body['incident']['id']}/")


def test_slack_and_pagerduty_bodies(org, app, receiver, django_capture_on_commit_callbacks):
    slack = NotificationChannel.objects.for_org(org).create(organization=org, name="s", kind=ChannelKind.SLACK, config={"url": receiver.url})
    pd = NotificationChannel.objects.for_org(org).create(
        organization=org, name="p", kind=ChannelKind.PAGERDUTY, config={"url": receiver.url, "routing_key": "R0UTINGKEY"}
    )
    app.name = "<b>&app"
    app.save()
    incident = factories.incident(org, app)
    incident.condition.warning_channels.set([slack, pd])
    with django_capture_on_commit_callbacks():
        actions.record_event(incident, "opened", "warning", value=400.0)
    for d in Delivery.objects.for_org(org):
        assert deliver(str(d.id)) == DeliveryStatus.SENT
    bodies = [json.loads(r["body"]) for r in receiver.drain()]
    slack_body = next(b for b in bodies if "attachments" in b)
    assert "&lt;b&gt;&amp;app" in slack_body["attachments"][0]["fields"][0]["value"]
    pd_body = next(b for b in bodies if "routing_key" in b)
    assert pd_body["event_action"] == "trigger" and pd_body["dedup_key"] == f"pulse-incident-{incident.id}"
    assert pd_body["payload"]["severity"] == "warning"
    with django_capture_on_commit_callbacks():
        actions.resolve(incident)
    for d in Delivery.objects.for_org(org).filter(status=DeliveryStatus.PENDING):
        deliver(str(d.id))
    resolved = [json.loads(r["body"]) for r in receiver.drain()]
    assert {b.get("event_action") for b in resolved} == {"resolve", None}


def test_email_to_members_and_addresses(org, app, member, django_capture_on_commit_callbacks):
    channel = NotificationChannel.objects.for_org(org).create(
        organization=org, name="mail", kind=ChannelKind.EMAIL, config={"members": True, "addresses": ["oncall@example.org"]}
    )
    delivery = opened_delivery(org, app, channel, django_capture_on_commit_callbacks)
    assert deliver(str(delivery.id)) == DeliveryStatus.SENT
    # One message each: an outside address never sees the members' addresses.
    assert sorted(m.recipients() for m in mail.outbox) == [["alice@example.com"], ["bob@example.com"], ["oncall@example.org"]]
    assert all(not m.cc and not m.bcc and "[WARNING]" in m.subject for m in mail.outbox)


def test_the_sweep_requeues_lost_first_attempts(org, app, django_capture_on_commit_callbacks):
    channel = factories.channel(org)
    delivery = opened_delivery(org, app, channel, django_capture_on_commit_callbacks)
    assert retry_due_deliveries() == 0
    Delivery.objects.for_org(org).filter(id=delivery.id).update(created_at=timezone.now() - timedelta(minutes=5))
    with django_capture_on_commit_callbacks():
        assert retry_due_deliveries() == 1


def _verifies(secret, request):
    """What docs/webhooks.md tells a receiver to do with the signature header."""
    headers = request["headers"]
    expected = "v1=" + webhook.sign(secret, headers["X-Pulse-Timestamp"], request["body"])
    return expected in [entry.strip() for entry in headers["X-Pulse-Signature"].split(",")]


def test_a_rotated_secret_signs_beside_the_new_one_until_the_overlap_ends(
    org, app, receiver, admin_client, admin, django_capture_on_commit_callbacks, settings
):
    settings.WEBHOOK_SECRET_OVERLAP_HOURS = 24
    channel = make_webhook(org, receiver.url)
    old = channel.secret
    response = admin_client.post(f"/o/{org.slug}/alerts/channels/{channel.id}/rotate-secret")
    assert response.status_code == 302
    channel.refresh_from_db()
    assert channel.secret != old
    assert channel.secret in admin_client.get(response["Location"]).content.decode()

    deliver(str(opened_delivery(org, app, channel, django_capture_on_commit_callbacks).id))
    request = receiver.get(timeout=5)
    assert _verifies(channel.secret, request) and _verifies(old, request)

    # After the overlap only the new secret signs.
    NotificationChannel.objects.for_org(org).filter(pk=channel.pk).update(
        previous_secret_until=timezone.now() - timedelta(seconds=1)
    )
    deliver(str(opened_delivery(org, app, channel, django_capture_on_commit_callbacks).id))
    request = receiver.get(timeout=5)
    assert _verifies(channel.secret, request) and not _verifies(old, request)
    assert "," not in request["headers"]["X-Pulse-Signature"]


def test_only_admins_rotate_a_webhook_secret(org, member_client, receiver):
    channel = make_webhook(org, receiver.url)
    assert member_client.post(f"/o/{org.slug}/alerts/channels/{channel.id}/rotate-secret").status_code == 403
    assert NotificationChannel.objects.for_org(org).get(pk=channel.pk).secret == channel.secret
