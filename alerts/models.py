"""Alerting: conditions and SLOs evaluated over the rollups, the incidents they open,
the channels that are notified, and the log of every delivery.

Every row is owned by an organisation (``OrgOwnedModel``); public identifiers are UUIDs.
"""

import secrets
import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from tenants.scoping import OrgOwnedModel


class Metric(models.TextChoices):
    APDEX = "apdex", "Apdex"
    AVG = "avg", "Average response time"
    P50 = "p50", "p50 response time"
    P95 = "p95", "p95 response time"
    P99 = "p99", "p99 response time"
    THROUGHPUT = "throughput", "Throughput (rpm)"
    ERROR_RATE = "error_rate", "Error rate (%)"
    ERROR_COUNT = "error_count", "Error count"
    CPU = "cpu", "Instance CPU (%)"
    MEMORY = "memory", "Instance memory (MB)"
    NO_DATA = "no_data", "No data"


# Units shown next to thresholds; response times are entered and stored in milliseconds.
METRIC_UNITS = {
    Metric.APDEX: "",
    Metric.AVG: "ms",
    Metric.P50: "ms",
    Metric.P95: "ms",
    Metric.P99: "ms",
    Metric.THROUGHPUT: "rpm",
    Metric.ERROR_RATE: "%",
    Metric.ERROR_COUNT: "errors",
    Metric.CPU: "%",
    Metric.MEMORY: "MB",
    Metric.NO_DATA: "",
}
INSTANCE_METRICS = {Metric.CPU, Metric.MEMORY}


class Comparison(models.TextChoices):
    ABOVE = "above", "above"
    BELOW = "below", "below"


class Mode(models.TextChoices):
    # Every minute of the window breaches ("for at least N minutes").
    SUSTAINED = "sustained", "for at least"
    # One breaching minute in the window is enough ("at least once in N minutes").
    ANY = "any", "at least once in"


class Severity(models.TextChoices):
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


SEVERITY_RANK = {None: 0, "": 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


class ChannelKind(models.TextChoices):
    EMAIL = "email", "E-mail"
    WEBHOOK = "webhook", "Signed webhook"
    SLACK = "slack", "Slack-compatible webhook"
    PAGERDUTY = "pagerduty", "PagerDuty (Events v2)"


def _new_secret():
    return secrets.token_urlsafe(32)


class NotificationChannel(OrgOwnedModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=ChannelKind.choices)
    # Kind-specific settings, validated by alerts.channels.<kind>.clean_config.
    config = models.JSONField(default=dict)
    # Signs webhook bodies (HMAC-SHA256); unused by the other kinds.
    secret = models.CharField(max_length=64, default=_new_secret)
    # After a rotation the old secret signs too, until previous_secret_until, so receivers
    # can switch to the new one without missing a notification.
    previous_secret = models.CharField(max_length=64, blank=True, default="")
    previous_secret_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def signing_secrets(self, now):
        """The secrets that sign a request sent at ``now``: the current one first."""
        if self.previous_secret and self.previous_secret_until and now < self.previous_secret_until:
            return [self.secret, self.previous_secret]
        return [self.secret]

    @property
    def previous_secret_signs_until(self):
        """When the previous secret stops signing, while it still does; else None."""
        if len(self.signing_secrets(timezone.now())) > 1:
            return self.previous_secret_until
        return None

    def rotate_secret(self, now, overlap):
        self.previous_secret, self.previous_secret_until = self.secret, now + overlap
        self.secret = _new_secret()

    @property
    def target_summary(self):
        """Where it sends, without secrets: webhook URLs (Slack's especially) carry tokens."""
        if self.kind == ChannelKind.EMAIL:
            parts = (["every member"] if self.config.get("members") else []) + list(self.config.get("addresses", []))
            return ", ".join(parts)
        from urllib.parse import urlsplit

        try:
            return urlsplit(self.config.get("url", "")).hostname or ""
        except ValueError:
            return ""


class Condition(OrgOwnedModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    app = models.ForeignKey("tenants.App", on_delete=models.CASCADE, related_name="alert_conditions")
    name = models.CharField(max_length=200)
    # Empty: the whole app; otherwise one transaction name.
    transaction = models.CharField(max_length=255, blank=True, default="")
    metric = models.CharField(max_length=20, choices=Metric.choices)
    comparison = models.CharField(max_length=10, choices=Comparison.choices, default=Comparison.ABOVE)
    warning_threshold = models.FloatField(null=True, blank=True)
    critical_threshold = models.FloatField(null=True, blank=True)
    window_minutes = models.PositiveSmallIntegerField(
        default=5, validators=[MinValueValidator(1), MaxValueValidator(60)]
    )
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.SUSTAINED)
    warning_channels = models.ManyToManyField(NotificationChannel, blank=True, related_name="+")
    critical_channels = models.ManyToManyField(NotificationChannel, blank=True, related_name="+")
    enabled = models.BooleanField(default=True)
    muted_until = models.DateTimeField(null=True, blank=True)
    # The end of the last evaluated window: evaluating the same minute again is a no-op.
    last_evaluated_minute = models.DateTimeField(null=True, blank=True)
    last_value = models.FloatField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(window_minutes__gte=1, window_minutes__lte=60), name="condition_window_1_60"
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def unit(self):
        return METRIC_UNITS.get(self.metric, "")

    def is_muted(self, at):
        return self.muted_until is not None and self.muted_until > at


class SLOIndicator(models.TextChoices):
    LATENCY = "latency", "Share of transactions faster than a threshold"
    ERRORS = "errors", "Share of transactions without error"


class SLO(OrgOwnedModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    app = models.ForeignKey("tenants.App", on_delete=models.CASCADE, related_name="slos")
    name = models.CharField(max_length=200)
    indicator = models.CharField(max_length=10, choices=SLOIndicator.choices)
    # Milliseconds, for the latency indicator.
    latency_threshold_ms = models.FloatField(null=True, blank=True)
    # Percent, e.g. 99.9.
    objective = models.FloatField(validators=[MinValueValidator(50), MaxValueValidator(99.999)])
    period_days = models.PositiveSmallIntegerField(choices=[(7, "7 days"), (28, "28 days")], default=28)
    # Slow burn (6 h / 30 min at 6x) notifies these ...
    warning_channels = models.ManyToManyField(NotificationChannel, blank=True, related_name="+")
    # ... fast burn (1 h / 5 min at 14.4x) these.
    critical_channels = models.ManyToManyField(NotificationChannel, blank=True, related_name="+")
    alerts_enabled = models.BooleanField(default=True)
    muted_until = models.DateTimeField(null=True, blank=True)
    last_evaluated_minute = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def error_budget(self):
        return 1.0 - self.objective / 100.0

    def is_muted(self, at):
        return self.muted_until is not None and self.muted_until > at


class AppMute(OrgOwnedModel):
    """A maintenance window: the app's conditions are evaluated and recorded, not notified."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    app = models.ForeignKey("tenants.App", on_delete=models.CASCADE, related_name="alert_mutes")
    starts_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-starts_at"]
        constraints = [models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="mute_ends_after_start")]


class Incident(OrgOwnedModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    app = models.ForeignKey("tenants.App", on_delete=models.CASCADE, related_name="incidents")
    # At most one of condition / slo is set; neither once its source was deleted (history stays).
    condition = models.ForeignKey(Condition, on_delete=models.SET_NULL, null=True, blank=True, related_name="incidents")
    slo = models.ForeignKey(SLO, on_delete=models.SET_NULL, null=True, blank=True, related_name="incidents")
    # What breached inside the condition's scope: "" for an app or transaction, a host for instance metrics.
    target = models.CharField(max_length=255, blank=True, default="")
    title = models.CharField(max_length=300)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    # The minute the breaching window started and the evaluation that opened it.
    started_at = models.DateTimeField()
    opened_at = models.DateTimeField(default=timezone.now)
    value = models.FloatField(null=True, blank=True)
    threshold = models.FloatField(null=True, blank=True)
    muted = models.BooleanField(default=False)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    # Null with resolved_at set: resolved automatically after recovery.
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["condition", "target"],
                condition=Q(resolved_at__isnull=True, condition__isnull=False),
                name="one_open_incident_per_condition_target",
            ),
            models.UniqueConstraint(
                fields=["slo"],
                condition=Q(resolved_at__isnull=True, slo__isnull=False),
                name="one_open_incident_per_slo",
            ),
            models.CheckConstraint(
                condition=Q(condition__isnull=True) | Q(slo__isnull=True), name="incident_has_one_source"
            ),
        ]
        indexes = [models.Index(fields=["organization", "app", "opened_at"], name="incident_app_time")]

    def __str__(self):
        return self.title

    @property
    def is_open(self):
        return self.resolved_at is None

    @property
    def state(self):
        if self.resolved_at:
            return "resolved"
        if self.acknowledged_at:
            return "acknowledged"
        return "open"


class EventKind(models.TextChoices):
    OPENED = "opened", "Opened"
    ESCALATED = "escalated", "Escalated"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


# State changes that notify the routed channels.
NOTIFYING_EVENTS = {EventKind.OPENED, EventKind.ESCALATED, EventKind.RESOLVED}


class IncidentEvent(OrgOwnedModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    value = models.FloatField(null=True, blank=True)
    # Why nobody was notified ("muted", "no channels"), empty when deliveries were queued.
    not_notified_reason = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["at"]


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RETRYING = "retrying", "Retrying"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class Delivery(OrgOwnedModel):
    """One notification of one channel: the idempotency key is (event, channel)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event = models.ForeignKey(IncidentEvent, on_delete=models.CASCADE, null=True, blank=True, related_name="deliveries")
    channel = models.ForeignKey(NotificationChannel, on_delete=models.CASCADE, related_name="deliveries")
    # A "Send test notification" delivery has no event.
    is_test = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_retry_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "channel"], condition=Q(event__isnull=False), name="one_delivery_per_event_channel"
            )
        ]
        indexes = [models.Index(fields=["status", "next_retry_at"], name="delivery_due")]
