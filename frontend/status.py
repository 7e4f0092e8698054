"""The health colour of an app or transaction from its recent Apdex and error rate."""

APDEX_WARN, APDEX_BAD = 0.85, 0.7  # same rule as the apps API (docs/query-api.md)
ERROR_RATE_WARN, ERROR_RATE_BAD = 0.01, 0.05  # fractions


def health(apdex, error_rate, incident=None):
    """'ok', 'warn', 'bad', or 'none' when there is no recent traffic.

    ``incident`` is the severity of the app's worst open incident ("warning" or
    "critical", from alerts.status.open_incident_severity_by_app), or None.
    """
    if incident == "critical":
        return "bad"
    if incident == "warning":
        return "bad" if health(apdex, error_rate) == "bad" else "warn"
    if apdex is None and error_rate is None:
        return "none"
    if (apdex is not None and apdex < APDEX_BAD) or (error_rate or 0) > ERROR_RATE_BAD:
        return "bad"
    if (apdex is not None and apdex < APDEX_WARN) or (error_rate or 0) > ERROR_RATE_WARN:
        return "warn"
    return "ok"


LABELS = {"ok": "Healthy", "warn": "Degraded", "bad": "Critical", "none": "No recent data"}
RANK = {"none": 0, "ok": 1, "warn": 2, "bad": 3}


def with_incident(status, incident):
    """A status dot raised by an open incident of the given severity."""
    raised = {"warning": "warn", "critical": "bad"}.get(incident, "none")
    return status if RANK[status] >= RANK[raised] else raised

# The apps API names colours; pages use the status-dot classes of pulse.css.
FROM_API = {"green": "ok", "amber": "warn", "red": "bad", "grey": "none"}
