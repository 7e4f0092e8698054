"""Query parameters of the telemetry endpoints and pages: the time range, read one way
everywhere (JSON API, alert endpoints, pages), and the one JSON answer to a bad parameter.

A range is ``range=<n><m|h|d>`` (1 to 4 digits, not zero) ending now, or ``from``/``to``:
unix seconds, or a date and time like ``2026-01-31T14:30`` (UTC unless it names its
zone, as a datetime-local input sends it). A missing ``to`` is now; a missing ``from`` is
``to`` minus the default range. Empty values count as missing.
"""

import datetime as dt
import math
import re
from collections.abc import Mapping

from django.http import HttpResponse

from apm.json_output import json_response

MAX_SPAN = 400 * 86400  # seconds
_RANGE = re.compile(r"^(\d{1,4})([mhd])$")
_UNITS = {"m": 60, "h": 3600, "d": 86400}
_LATEST = 1e11  # unix seconds (year 5138): later is a typo, and past datetime's range


class BadParam(ValueError):
    """A query parameter that cannot be used; ``field`` names it, the message says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def invalid(exc: BadParam) -> HttpResponse:
    """The 400 answer naming the bad parameter (docs/query-api.md)."""
    return json_response({"error": {"code": "invalid", "field": exc.field, "message": exc.message}}, status=400)


def duration(raw: str) -> int:
    """Seconds of a ``range`` value such as ``30m``, ``6h`` or ``7d``."""
    m = _RANGE.match(raw)
    if not m or int(m.group(1)) == 0:
        raise BadParam("range", "range must look like 30m, 6h or 7d")
    return int(m.group(1)) * _UNITS[m.group(2)]


def instant(raw: str, field: str) -> float:
    """Unix seconds of a ``from``/``to`` value: unix seconds, or an ISO date and time."""
    try:
        value = float(raw)
    except ValueError:
        try:
            parsed = dt.datetime.fromisoformat(raw.strip())
        except ValueError:
            value = math.nan
        else:
            value = (parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed).timestamp()
    if not 0 < value < _LATEST:  # also refuses nan
        raise BadParam(field, f"{field} must be unix seconds or a date and time like 2026-01-31T14:30 (UTC)")
    return value


def time_range(
    params: Mapping[str, str], *, now: float, default: str = "1h", max_span: int = MAX_SPAN
) -> tuple[float, float]:
    """(since, until) unix seconds asked for by a QueryDict-like ``params``; raises BadParam."""
    raw_from, raw_to = params.get("from") or None, params.get("to") or None
    if raw_from is None and raw_to is None:
        until = now
        since = now - duration(params.get("range") or default)
    else:
        until = instant(raw_to, "to") if raw_to is not None else now
        since = instant(raw_from, "from") if raw_from is not None else until - duration(default)
        if since >= until:
            raise BadParam("from", "from must be before to")
    if until - since > max_span:
        most = f"{max_span // 86400} days" if max_span >= 86400 else f"{max_span // 3600} hours"
        raise BadParam("range", f"the range may span at most {most}")
    return since, until
