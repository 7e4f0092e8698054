"""An app's health from its recent figures: the status of the apps API and of the pages' status dots.

``red`` when Apdex < 0.7 or the error rate > 5 %, ``amber`` when Apdex < 0.85 or the error
rate > 1 %, ``green`` otherwise, ``grey`` without transactions (docs/query-api.md).
"""

from typing import Any

APDEX_AMBER, APDEX_RED = 0.85, 0.7
ERROR_RATE_AMBER, ERROR_RATE_RED = 0.01, 0.05  # fractions
STATUSES = ("grey", "green", "amber", "red")  # from no data to worst
RANK = {status: rank for rank, status in enumerate(STATUSES)}


def status_of(stats: dict[str, Any]) -> str:
    """The status of a ``stats`` dict (apm.queries.stats)."""
    if not stats["count"]:
        return "grey"
    apdex, rate = stats["apdex"], stats["error_rate"] or 0.0
    if (apdex is not None and apdex < APDEX_RED) or rate > ERROR_RATE_RED:
        return "red"
    if (apdex is not None and apdex < APDEX_AMBER) or rate > ERROR_RATE_AMBER:
        return "amber"
    return "green"


def worst(*statuses: str) -> str:
    """The worst of some statuses (grey, no data, counts as the best)."""
    return max(statuses, key=RANK.__getitem__)
