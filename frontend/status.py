"""How the pages show an app's health (apm.queries.health decides it; alerts.status raises it
for an open incident): the status-dot class of pulse.css and its label."""

DOT_CLASS = {"green": "ok", "amber": "warn", "red": "bad", "grey": "none"}
LABELS = {"green": "Healthy", "amber": "Degraded", "red": "Critical", "grey": "No recent data"}


def status_dot(status, incident=None):
    """(CSS class, label) of the status dot; ``incident``: the severity of the app's worst open incident."""
    return DOT_CLASS[status], LABELS[status] + (" (open incident)" if incident else "")
