"""The time range of a monitoring page, read from its URL by apm.params, and its presets and links.

``?range=30m|1h|6h|24h|7d|30d`` picks a preset ending now; ``?from=…&to=…`` (unix
seconds, or ``YYYY-MM-DDTHH:MM`` in UTC as a datetime-local input sends it) is a
custom range, which is what click-drag zoom writes. Keeping the range in the URL
makes every view shareable.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from apm.params import BadParam, time_range

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


def parse_range(params, now=None, default=DEFAULT):
    """The TimeRange asked for by a QueryDict-like ``params`` (read by apm.params, like every
    endpoint's range); raises apm.params.BadParam. A page's range ends at the latest now and
    spans at least a minute."""
    now = now or datetime.now(UTC)
    since, until = time_range(params, now=now.timestamp(), default=default)
    if not (params.get("from") or params.get("to")):
        key = params.get("range") or default
        return TimeRange(now - timedelta(seconds=until - since), now, key if key in PRESETS else "custom")
    start, end = datetime.fromtimestamp(since, UTC), min(datetime.fromtimestamp(until, UTC), now)
    if end - start < MIN_SPAN:
        raise BadParam("from", "'from' must be at least a minute before 'to' (and not in the future)")
    return TimeRange(start, end, "custom")
