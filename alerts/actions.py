"""Incident state changes: each atomic, each recorded as an IncidentEvent, and each that
notifies queues one Delivery per routed channel, sent by a Celery task after commit.
Changes to the definitions (channels, conditions, SLOs) are written to the audit log.

The Delivery's unique (event, channel) is the idempotency key: a state change is
recorded once, so it is notified once per channel however often the task runs.
"""

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.forms import ModelForm
from django.utils import timezone

from alerts.delivery import deliver
from alerts.models import (
    NOTIFYING_EVENTS,
    SEVERITY_RANK,
    SLO,
    AppMute,
    Condition,
    Delivery,
    EventKind,
    Incident,
    IncidentEvent,
    NotificationChannel,
    Severity,
)
from tenants import audit, limits
from tenants.models import Organization, User


class IncidentStateError(Exception):
    """The incident is not in a state that allows this change."""


def app_muted(app_id: uuid.UUID, org: Organization, at: datetime) -> bool:
    return AppMute.objects.for_org(org).filter(app_id=app_id, starts_at__lte=at, ends_at__gt=at).exists()


def _routed_channels(incident: Incident, kind: str, severity: str) -> list[NotificationChannel]:
    source = incident.condition or incident.slo
    if kind == EventKind.RESOLVED:
        # Whoever heard about the incident hears that it is over.
        ids = (
            Delivery.objects.for_org(incident.organization)
            .filter(event__incident=incident, is_test=False)
            .values_list("channel_id", flat=True)
            .distinct()
        )
        return list(NotificationChannel.objects.for_org(incident.organization).filter(id__in=list(ids)))
    routed = source.critical_channels if severity == Severity.CRITICAL else source.warning_channels
    return list(routed.all())


def record_event(
    incident: Incident,
    kind: str,
    severity: str,
    *,
    at: datetime | None = None,
    actor: User | None = None,
    value: float | None = None,
    muted: bool = False,
) -> IncidentEvent:
    """Add a timeline event; queue its notifications on commit unless muted.

    ``kind``: an EventKind (a str; without django-stubs mypy reads choices as tuples, hence
    the ignores where this is called).
    """
    event = IncidentEvent.objects.for_org(incident.organization).create(
        organization=incident.organization,
        incident=incident,
        kind=kind,
        severity=severity,
        at=at or timezone.now(),
        actor=actor,
        value=value,
    )
    if kind not in NOTIFYING_EVENTS:
        return event
    if muted:
        event.not_notified_reason = "muted"
        event.save(update_fields=["not_notified_reason"])
        return event
    channels = _routed_channels(incident, kind, severity)
    if not channels:
        event.not_notified_reason = "no channels"
        event.save(update_fields=["not_notified_reason"])
        return event
    deliveries = Delivery.objects.for_org(incident.organization).bulk_create(
        [Delivery(organization=incident.organization, event=event, channel=c) for c in channels]
    )
    queue_deliveries([d.id for d in deliveries])
    return event


def queue_deliveries(delivery_ids: Iterable[uuid.UUID]) -> None:
    def send() -> None:
        for delivery_id in delivery_ids:
            deliver.delay(str(delivery_id))

    # Never inside the caller's transaction: a rolled-back state change sends nothing,
    # and a slow receiver never holds the evaluator's locks.
    transaction.on_commit(send)


@transaction.atomic
def open_incident(
    *,
    org: Organization,
    app_id: uuid.UUID,
    condition: Condition | None = None,
    slo: SLO | None = None,
    target: str = "",
    title: str,
    severity: str,
    started_at: datetime,
    value: float | None,
    threshold: float | None,
    muted: bool,
    at: datetime,
) -> Incident | None:
    """Open an incident, or return None when one is already open for this source and target."""
    try:
        with transaction.atomic():
            incident = Incident.objects.for_org(org).create(
                organization=org,
                app_id=app_id,
                condition=condition,
                slo=slo,
                target=target,
                title=title[:300],
                severity=severity,
                started_at=started_at,
                opened_at=at,
                value=value,
                threshold=threshold,
                muted=muted,
            )
    except IntegrityError:
        # The partial unique index keeps one open incident per source and target.
        return None
    record_event(incident, EventKind.OPENED, severity, at=at, value=value, muted=muted)  # type: ignore[arg-type]
    return incident


@transaction.atomic
def escalate(
    incident: Incident, severity: str, *, value: float | None, threshold: float | None, muted: bool, at: datetime
) -> IncidentEvent | None:
    incident = _lock_open(incident)
    if incident.resolved_at is not None or SEVERITY_RANK[severity] <= SEVERITY_RANK[incident.severity]:
        return None  # resolved by hand meanwhile, or already that severe
    incident.severity = severity
    incident.value = value
    incident.threshold = threshold
    incident.save(update_fields=["severity", "value", "threshold"])
    return record_event(incident, EventKind.ESCALATED, severity, at=at, value=value, muted=muted)  # type: ignore[arg-type]


def _lock_open(incident: Incident) -> Incident:
    locked = Incident.objects.for_org(incident.organization).select_for_update().filter(id=incident.id).first()
    if locked is None:
        raise IncidentStateError("This incident no longer exists.")
    return locked


@transaction.atomic
def resolve(
    incident: Incident,
    *,
    by: User | None = None,
    at: datetime | None = None,
    value: float | None = None,
    muted: bool = False,
) -> Incident:
    """Resolve an open incident: by a user, or automatically (``by=None``) after recovery."""
    incident = _lock_open(incident)
    if incident.resolved_at is not None:
        raise IncidentStateError("This incident is already resolved.")
    incident.resolved_at = at or timezone.now()
    incident.resolved_by = by
    incident.save(update_fields=["resolved_at", "resolved_by"])
    if by is not None and not muted:
        muted = app_muted(incident.app_id, incident.organization, incident.resolved_at)
    record_event(incident, EventKind.RESOLVED, incident.severity, at=incident.resolved_at, actor=by, value=value, muted=muted)  # type: ignore[arg-type]
    return incident


@transaction.atomic
def acknowledge(incident: Incident, user: User) -> Incident:
    incident = _lock_open(incident)
    if incident.resolved_at is not None:
        raise IncidentStateError("A resolved incident cannot be acknowledged.")
    if incident.acknowledged_at is not None:
        raise IncidentStateError("This incident is already acknowledged.")
    incident.acknowledged_at = timezone.now()
    incident.acknowledged_by = user
    incident.save(update_fields=["acknowledged_at", "acknowledged_by"])
    record_event(incident, EventKind.ACKNOWLEDGED, incident.severity, at=incident.acknowledged_at, actor=user)  # type: ignore[arg-type]
    return incident


@transaction.atomic
def rotate_webhook_secret(channel: NotificationChannel, user: User | None = None) -> NotificationChannel:
    """A new signing secret; the old one keeps signing too for WEBHOOK_SECRET_OVERLAP_HOURS."""
    channel = NotificationChannel.objects.for_org(channel.organization_id).select_for_update().get(pk=channel.pk)
    channel.rotate_secret(timezone.now(), timedelta(hours=settings.WEBHOOK_SECRET_OVERLAP_HOURS))
    channel.save(update_fields=["secret", "previous_secret", "previous_secret_until"])
    audit.record(channel.organization_id, user, audit.Action.CHANNEL_SECRET_ROTATED, channel.name, {"id": str(channel.pk)})
    return channel


Definition = NotificationChannel | Condition | SLO
_AUDIT_KIND = {NotificationChannel: "channel", Condition: "condition", SLO: "slo"}


def _audit_definition(definition: Definition, user: User | None, verb: str, details: dict, via: str = "") -> None:
    action = audit.Action(f"{_AUDIT_KIND[type(definition)]}.{verb}")
    if via:
        details = {**details, "via": via}
    audit.record(definition.organization_id, user, action, definition.name, {"id": str(definition.pk), **details})


@transaction.atomic
def save_definition(
    form: ModelForm,
    org: Organization,
    user: User | None,
    *,
    limit: limits.Limit,
    reevaluate: bool = False,
    via: str = "",
) -> Definition:
    """Save a valid channel, condition or SLO form as ``org``'s, new or changed; a new one
    needs room under ``limit`` (raises limits.LimitReached). ``via``: the API token that
    asked, for the audit entry (``user`` is None for an organisation token)."""
    definition = form.save(commit=False)
    created = definition._state.adding
    if created:
        limits.require_room(limit, org.pk, type(definition).objects.for_org(org))
    definition.organization = org
    if created and hasattr(definition, "created_by"):
        definition.created_by = user
    if reevaluate:
        # A changed definition is judged afresh from the next minute.
        definition.last_evaluated_minute = None
    definition.save()
    form.save_m2m()
    # Field names only: a channel's fields hold its secrets and addresses.
    details = {"fields": sorted(form.changed_data)}
    _audit_definition(definition, user, "created" if created else "changed", details, via)
    return definition


@transaction.atomic
def delete_channel(channel: NotificationChannel, user: User | None, via: str = "") -> None:
    _audit_definition(channel, user, "deleted", {}, via)
    channel.delete()


TEST_SEND_WINDOW = timedelta(hours=1)


class TestSendsThrottled(Exception):
    """The organisation sent ALERTS_TEST_SENDS_PER_HOUR test notifications in the last hour."""

    def __init__(self, retry_after: int):
        self.retry_after = retry_after
        minutes = max(1, -(-retry_after // 60))
        super().__init__(
            f"This organisation has sent {settings.ALERTS_TEST_SENDS_PER_HOUR} test notifications in the last hour, "
            f"the most allowed. Try again in {minutes} minute{'s' if minutes != 1 else ''}."
        )


def send_test(channel: NotificationChannel) -> Delivery:
    """Queue a test notification for ``channel``; returns the Delivery.

    Raises ``TestSendsThrottled`` past ALERTS_TEST_SENDS_PER_HOUR for the organisation: a test
    send points Pulse's workers at any URL a member types, so it must not become a flood."""
    with transaction.atomic():
        # The organisation's row lock makes parallel test sends count one after another.
        limits.lock_organization(channel.organization_id)
        since = timezone.now() - TEST_SEND_WINDOW
        recent = Delivery.objects.for_org(channel.organization).filter(is_test=True, created_at__gt=since)
        if recent.count() >= settings.ALERTS_TEST_SENDS_PER_HOUR:
            oldest = recent.order_by("created_at").values_list("created_at", flat=True).first()
            raise TestSendsThrottled(int((oldest - since).total_seconds()) + 1)
        delivery = Delivery.objects.for_org(channel.organization).create(
            organization=channel.organization, channel=channel, is_test=True
        )
        queue_deliveries([delivery.id])
    return delivery


@transaction.atomic
def delete_source(source: Condition | SLO, user: User | None, via: str = "") -> None:
    """Delete a condition or SLO; its open incidents are resolved first (notifying), history stays."""
    field = "slo" if isinstance(source, SLO) else "condition"
    for incident in Incident.objects.for_org(source.organization).filter(**{field: source}, resolved_at__isnull=True):
        resolve(incident, by=user)
    _audit_definition(source, user, "deleted", {}, via)
    source.delete()
