"""What a notification says, independent of how it is sent.

Built from a delivery (its incident event, or a test) so every channel kind words
the same facts the same way; the webhook kind sends ``payload()`` as its JSON body.
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.urls import reverse

from alerts.models import METRIC_UNITS, EventKind
from tenants.mail_text import quoted


def _fmt(value, unit):
    if value is None:
        return "no value"
    text = f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 1000 else f"{value:,.0f}"
    return f"{text} {unit}".strip()


@dataclass
class Message:
    event: str  # incident.opened / incident.escalated / incident.resolved / test
    incident_id: str
    title: str
    app: str
    severity: str
    state: str
    summary: str
    url: str
    at: str  # ISO 8601 UTC
    value: float | None = None
    threshold: float | None = None
    unit: str = ""
    condition: dict = field(default_factory=dict)
    delivery_id: str = ""

    def payload(self):
        return {
            "version": 1,
            "event": self.event,
            "delivery_id": self.delivery_id,
            "at": self.at,
            "incident": {
                "id": self.incident_id,
                "title": self.title,
                "app": self.app,
                "severity": self.severity,
                "state": self.state,
                "value": self.value,
                "threshold": self.threshold,
                "unit": self.unit,
                "url": self.url,
            },
            "condition": self.condition,
            "summary": self.summary,
        }


_VERBS = {
    EventKind.OPENED: "opened",
    EventKind.ESCALATED: "escalated to critical",
    EventKind.RESOLVED: "resolved",
    EventKind.ACKNOWLEDGED: "acknowledged",
}


def for_delivery(delivery):
    """The message of one delivery (test deliveries get a clearly marked sample)."""
    if delivery.is_test:
        return Message(
            event="test",
            incident_id="",
            title="Test notification from Pulse",
            app="",
            severity="warning",
            state="test",
            summary=f"This is a test notification for the channel {quoted(delivery.channel.name)}.",
            url=settings.PUBLIC_URL + reverse("alerts:channels", args=[delivery.organization.slug]),
            at=delivery.created_at.isoformat(),
            delivery_id=str(delivery.id),
        )
    event = delivery.event
    incident = event.incident
    if incident.condition_id:
        unit = METRIC_UNITS.get(incident.condition.metric, "")
    else:
        unit = "x" if incident.slo_id else ""  # an SLO's value is a burn rate
    verb = _VERBS.get(event.kind, event.kind)
    summary = f"[{event.severity.upper()}] {incident.title} \u2014 {verb}"
    if event.kind != EventKind.RESOLVED and event.value is not None:
        summary += f" (value {_fmt(event.value, unit)}, threshold {_fmt(incident.threshold, unit)})"
    condition = {}
    if incident.condition_id:
        c = incident.condition
        condition = {
            "id": str(c.id),
            "name": c.name,
            "metric": c.metric,
            "comparison": c.comparison,
            "window_minutes": c.window_minutes,
            "transaction": c.transaction or None,
        }
    elif incident.slo_id:
        condition = {"slo_id": str(incident.slo_id), "name": incident.slo.name}
    return Message(
        event=f"incident.{event.kind}",
        incident_id=str(incident.id),
        title=incident.title,
        app=incident.app.name,
        severity=event.severity,
        state=incident.state if event.kind != EventKind.RESOLVED else "resolved",
        summary=summary,
        url=settings.PUBLIC_URL + reverse("alerts:incident", args=[incident.organization.slug, incident.id]),
        at=event.at.isoformat(),
        value=event.value,
        threshold=incident.threshold,
        unit=unit,
        condition=condition,
        delivery_id=str(delivery.id),
    )
