"""Whether an app has a viewer on its live page, as the 202 reply tells its agents.

The answer comes from a per-process copy of the apps' "watched" marks
(contract/live_watch.py), at most ``RECHECK_SECONDS`` old: the ingest fast path must not
gain a Redis round trip per payload. On the event loop a stale or missing answer is
refreshed by a background task, one MGET for every app asked about meanwhile, and the
payload is answered from what the copy holds (a new viewer is told to the agents about a
second later). Synchronous callers (the Django view) refresh inline, at most once per
``RECHECK_SECONDS`` per app.

Fails closed: when Redis cannot tell, the agents keep their normal interval.
"""

import asyncio
import logging
import time

import redis
import redis.asyncio
from django.conf import settings

from contract import live_watch
from contract.redis_client import client

RECHECK_SECONDS = 1.0
_MAX_APPS = 10_000  # answers kept per process, so many apps cannot grow it without bound
log = logging.getLogger(__name__)


class WatchedApps:
    def __init__(self):
        self._answers = {}  # app id (as the callers give it) -> (watched, monotonic time of the answer)
        self._stale = set()  # app ids the next refresh asks about
        self._loop = None
        self._refresher = None

    def on_loop(self, app_id):
        """The answer for ``app_id``, called on an event loop; schedules a refresh when stale."""
        answer = self._answers.get(app_id)
        if answer is None or time.monotonic() - answer[1] >= RECHECK_SECONDS:
            self._stale.add(app_id)
            if self._refresher is None:
                loop = asyncio.get_running_loop()
                if loop is not self._loop:
                    self._bind(loop)
                self._refresher = loop.create_task(self._refresh())
        return answer is not None and answer[0]

    def blocking(self, app_id):
        """The answer for ``app_id`` from a thread, asking Redis itself when stale."""
        answer = self._answers.get(app_id)
        if answer is None or time.monotonic() - answer[1] >= RECHECK_SECONDS:
            try:
                watched = client(settings.CACHE_REDIS_URL).exists(live_watch.key(app_id)) > 0
            except redis.RedisError:
                watched = False
            self._remember({app_id: watched})
            return watched
        return answer[0]

    async def aclose(self):
        """Close the connections (called on the loop they were made on, before it ends)."""
        if self._loop is asyncio.get_running_loop():
            if self._refresher is not None:
                self._refresher.cancel()
                self._refresher = None
            await self._redis.aclose()
            self._loop = None

    def forget(self):
        """Drop every answer (tests)."""
        self._answers.clear()

    def _bind(self, loop):
        # An asyncio client belongs to one event loop (tests run one per request).
        self._loop = loop
        self._redis = redis.asyncio.Redis.from_url(settings.CACHE_REDIS_URL)

    def _remember(self, answers):
        if len(self._answers) + len(answers) > _MAX_APPS:
            self._answers.clear()
        now = time.monotonic()
        for key, watched in answers.items():
            self._answers[key] = (watched, now)

    async def _refresh(self):
        try:
            while self._stale:
                keys = list(self._stale)
                self._stale.clear()
                try:
                    marks = await self._redis.mget([live_watch.key(k) for k in keys])
                except redis.RedisError as exc:
                    log.warning("live flag: Redis cannot say which apps are watched (%s)", exc)
                    marks = [None] * len(keys)
                self._remember({k: mark is not None for k, mark in zip(keys, marks)})
        finally:
            self._refresher = None


watched = WatchedApps()  # this process's copy
