"""Alerting objects of one organisation, for the route sweep (tests/test_route_sweep.py) and views tests."""

from datetime import timedelta

from django.utils import timezone

from alerts.models import SLO, AppMute, ChannelKind, Condition, Incident, Metric, NotificationChannel, Severity


def channel(org):
    return NotificationChannel.objects.for_org(org).create(
        organization=org, name="Ops", kind=ChannelKind.WEBHOOK, config={"url": "https://hooks.example.com/x"}
    )


def condition(org, app):
    return Condition.objects.for_org(org).create(
        organization=org, app=app, name="Slow", metric=Metric.P95, warning_threshold=300, critical_threshold=1000
    )


def incident(org, app):
    now = timezone.now()
    return Incident.objects.for_org(org).create(
        organization=org,
        app=app,
        condition=condition(org, app),
        title="Slow (app)",
        severity=Severity.WARNING,
        started_at=now - timedelta(minutes=5),
        value=400,
        threshold=300,
    )


def slo(org, app):
    return SLO.objects.for_org(org).create(organization=org, app=app, name="Errors", indicator="errors", objective=99.9)


def mute(org, app):
    return AppMute.objects.for_org(org).create(organization=org, app=app, ends_at=timezone.now() + timedelta(hours=1))
