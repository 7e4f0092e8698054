"""Unix minutes as the batch writes them: aware datetimes, cached."""

import datetime as dt

UTC = dt.timezone.utc

_minute_cache: dict[int, dt.datetime] = {}


def minute_dt(seconds: int) -> dt.datetime:
    """Aware datetime of a whole unix second count, cached (a batch repeats few minutes)."""
    d = _minute_cache.get(seconds)
    if d is None:
        if len(_minute_cache) > 10_000:
            _minute_cache.clear()
        d = _minute_cache[seconds] = dt.datetime.fromtimestamp(seconds, UTC)
    return d
