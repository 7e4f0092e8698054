"""Bounded per-process caches whose entries expire: what ingest keeps of keys and apps so that
steady-state requests do not touch the database.

cachetools' TLRUCache behind a lock (its caches are not thread-safe, and the ASGI server
reads them from the event loop and its thread pool). Each entry lives for the TTL read
when it is stored, so a changed setting applies from the next entry; a full cache drops
its least recently used entries, not everything at once. AnswerCache keeps "not found"
answers in a cache of their own, so a flood of unknown keys cannot push out known ones.
"""

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

import cachetools


class TTLCache:
    """At most ``maxsize`` entries, each forgotten ``ttl`` seconds after it was stored.

    ``ttl``: seconds, or a function giving them (read at each store); an entry with a TTL of
    zero is not kept. ``timer``: the clock, monotonic seconds.
    """

    def __init__(
        self, maxsize: int, ttl: float | Callable[[], float], timer: Callable[[], float] = time.monotonic
    ) -> None:
        seconds = ttl if callable(ttl) else (lambda: ttl)
        self._entries = cachetools.TLRUCache(maxsize, lambda _key, _value, now: now + seconds(), timer=timer)
        self._lock = threading.Lock()

    def get(self, key: Hashable, default: Any = None) -> Any:
        """The value stored under ``key`` if it has not expired, else ``default``."""
        with self._lock:
            try:
                return self._entries[key]
            except KeyError:
                return default

    def set(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._entries[key] = value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


class AnswerCache:
    """A TTLCache for look-ups whose answer may be None ("no such thing"), keeping the Nones apart.

    Answers that found something live in one bounded cache, Nones in another: however many
    distinct unknown keys arrive, they push out only one another, never a known one, and the
    same unknown key asked again costs nothing while it is remembered.
    """

    def __init__(
        self,
        maxsize: int,
        ttl: float | Callable[[], float],
        unknown_maxsize: int,
        unknown_ttl: float | Callable[[], float],
    ) -> None:
        self._known = TTLCache(maxsize, ttl)
        self._unknown = TTLCache(unknown_maxsize, unknown_ttl)

    def get(self, key: Hashable, default: Any = None) -> Any:
        """The answer stored under ``key`` (None for "nothing") if it has not expired, else ``default``."""
        found = self._known.get(key, _ABSENT)
        if found is not _ABSENT:
            return found
        return None if self._unknown.get(key, _ABSENT) is not _ABSENT else default

    def set(self, key: Hashable, value: Any) -> None:
        if value is None:
            self._unknown.set(key, True)
        else:
            self._known.set(key, value)

    def clear(self) -> None:
        self._known.clear()
        self._unknown.clear()


_ABSENT = object()
