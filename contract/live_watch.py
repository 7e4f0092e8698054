"""The "watched" mark of an app: set while a browser has one of its live pages open.

Each open live socket (frontend/consumers.py) renews it every ``WATCH_SECONDS / 3`` in
the cache Redis (``CACHE_REDIS_URL``); it lapses ``WATCH_SECONDS`` after the last
socket stops renewing it. Read by the workers (apm/live.py: publish only for watched
apps) and by ingest (ingest/live_flag.py: tell the app's agents to send their events
every half second).
"""

import uuid

from django.conf import settings

from contract.redis_client import client

WATCH_SECONDS = 30


def key(app_id: object) -> str:
    """The Redis key of one app's mark."""
    return f"pulse:live:watched:{uuid.UUID(str(app_id)).hex}"


def mark(app_id: object) -> None:
    """Say that a live socket is open on this app (for WATCH_SECONDS)."""
    client(settings.CACHE_REDIS_URL).set(key(app_id), b"1", ex=WATCH_SECONDS)
