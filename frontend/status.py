"""The health colour of an app or transaction from its recent Apdex and error rate."""

# Thresholds in the spirit of the Apdex ratings: 0.94+ excellent, 0.85 good, 0.70 fair, below poor.
APDEX_WARN, APDEX_BAD = 0.85, 0.7
ERROR_RATE_WARN, ERROR_RATE_BAD = 1.0, 5.0  # percent


def health(apdex, error_rate, open_incidents=0):
    """'ok', 'warn', 'bad', or 'none' when there is no recent traffic."""
    if open_incidents:
        return "bad"
    if apdex is None and error_rate is None:
        return "none"
    if (apdex is not None and apdex < APDEX_BAD) or (error_rate or 0) >= ERROR_RATE_BAD:
        return "bad"
    if (apdex is not None and apdex < APDEX_WARN) or (error_rate or 0) >= ERROR_RATE_WARN:
        return "warn"
    return "ok"


LABELS = {"ok": "Healthy", "warn": "Degraded", "bad": "Critical", "none": "No recent data"}
