"""Read-only incident facts other pages use: status dots on the apps page and red bands on charts."""

from django.db.models import Q

from apm.queries.health import worst

from alerts.models import SEVERITY_RANK, Incident, Severity

# An open incident makes an app's status at least this bad, whatever its recent figures.
_INCIDENT_STATUS = {Severity.WARNING: "amber", Severity.CRITICAL: "red"}


def with_incident(status, severity):
    """An app's status (apm.queries.health) raised by its worst open incident's ``severity`` (or None)."""
    return worst(status, _INCIDENT_STATUS.get(severity, "grey"))


def open_incident_severity_by_app(org):
    """{app_id: "warning" | "critical"} for the apps of ``org`` with an open incident (one query)."""
    out = {}
    rows = Incident.objects.for_org(org).filter(resolved_at__isnull=True).values_list("app_id", "severity")
    for app_id, severity in rows:
        if SEVERITY_RANK[severity] > SEVERITY_RANK[out.get(app_id)]:
            out[app_id] = severity
    return out


def incident_periods(org, app_id, start, end, limit=500):
    """Incidents of one app (every app when ``app_id`` is None) that overlap [start, end),
    oldest first, as plain dicts for JSON.

    ``end`` is None while the incident is open. The period begins where the breaching
    window began (``started_at``), which is what a chart should shade.
    """
    rows = Incident.objects.for_org(org)
    if app_id is not None:
        rows = rows.filter(app_id=app_id)
    rows = (
        rows.filter(started_at__lt=end)
        .filter(Q(resolved_at__isnull=True) | Q(resolved_at__gte=start))
        .select_related("condition")
        .order_by("started_at")[:limit]
    )
    return [
        {
            "id": str(i.id),
            "app": str(i.app_id),
            "title": i.title,
            "severity": i.severity,
            "state": i.state,
            "start": i.started_at.timestamp(),
            "opened": i.opened_at.timestamp(),
            "end": i.resolved_at.timestamp() if i.resolved_at else None,
            "metric": i.condition.metric if i.condition_id else "slo",
            "transaction": (i.condition.transaction or None) if i.condition_id else None,
        }
        for i in rows
    ]
