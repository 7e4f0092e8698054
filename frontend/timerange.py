"""The time range of a monitoring page, read from its URL.

``?range=30m|1h|6h|24h|7d|30d`` picks a preset ending now; ``?from=…&to=…`` (unix
seconds, or ``YYYY-MM-DDTHH:MM`` in UTC as a datetime-local input sends it) is a
custom range, which is what click-drag zoom writes. Keeping the range in the URL
makes every view shareable.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

PRESETS = {
    "30m": ("30 min", timedelta(minutes=30)),
    "1h": ("1 hour", timedelta(hours=1)),
    "6h": ("6 hours", timedelta(hours=6)),
    "24h": ("24 hours", timedelta(hours=24)),
    "7d": ("7 days", timedelta(days=7)),
    "30d": ("30 days", timedelta(days=30)),
}
DEFAULT = "1h"
MIN_SPAN = timedelta(minutes=1)
MAX_SPAN = timedelta(days=400)


class BadRange(ValueError):
    """The URL asks for a range that cannot be shown; the message says why."""


@dataclass(frozen=True)
class TimeRange:
    start: datetime
    end: datetime
    key: str  # a preset key, or "custom"

    @property
    def span(self):
        return self.end - self.start

    @property
    def seconds(self):
        return self.span.total_seconds()

    @property
    def label(self):
        if self.key in PRESETS:
            return "Last " + PRESETS[self.key][0]
        return f"{self.start:%Y-%m-%d %H:%M} – {self.end:%Y-%m-%d %H:%M} UTC"

    @property
    def params(self):
        """The query-string parameters that reproduce this range."""
        if self.key in PRESETS:
            return {"range": self.key}
        return {"from": str(int(self.start.timestamp())), "to": str(int(self.end.timestamp()))}

    @property
    def query(self):
        return urlencode(self.params)


def _parse_instant(raw, name):
    raw = raw.strip()
    if raw.isdigit():
        try:
            return datetime.fromtimestamp(int(raw), tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise BadRange(f"'{name}' is not a valid time")
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise BadRange(f"'{name}' must be unix seconds or a date and time like 2026-01-31T14:30 (UTC)")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_range(params, now=None, default=DEFAULT):
    """The TimeRange asked for by a QueryDict-like ``params``; raises BadRange."""
    now = now or datetime.now(UTC)
    raw_from, raw_to = params.get("from"), params.get("to")
    if raw_from or raw_to:
        if not (raw_from and raw_to):
            raise BadRange("a custom range needs both 'from' and 'to'")
        start, end = _parse_instant(raw_from, "from"), _parse_instant(raw_to, "to")
        end = min(end, now)
        if end - start < MIN_SPAN:
            raise BadRange("'from' must be at least a minute before 'to' (and not in the future)")
        if end - start > MAX_SPAN:
            raise BadRange("a range may span at most 400 days")
        return TimeRange(start, end, "custom")
    key = params.get("range") or default
    if key not in PRESETS:
        raise BadRange(f"unknown range {key!r}: use one of {', '.join(PRESETS)} or from/to")
    return TimeRange(now - PRESETS[key][1], now, key)
