"""Bounds on the database look-ups of ingest's ASGI path: keys and apps its caches do not hold.

A request whose key is not cached costs a PostgreSQL query on a small thread pool, and
anyone can send one. Two bounds keep strangers from stalling that pool for everyone:

- ``UnknownKeyLimit``: a token bucket per client address. Each look-up that finds no
  key takes a token; a client out of tokens is told 429 before its next look-up. Keys
  this process found valid lately are looked up whatever the bucket holds, so clients
  behind one address with a flooder (a proxy, a NAT) keep working.
- ``LookupPool``: at most INGEST_LOOKUPS_MAX look-ups queued or running; beyond that a
  request is told 503 at once instead of waiting in an unbounded queue.

Both live in process memory: each web process bounds its own pool.
"""

import asyncio
import ipaddress
import threading
import time

import cachetools
from django.conf import settings

from tenants.caching import TTLCache
from tenants.client_address import address_of

_CLIENTS_MAX = 100_000
_VALID_KEYS_MAX = 100_000
_VALID_KEYS_SECONDS = 3600.0


def client_of(scope, headers):
    """The address a token bucket belongs to: the client (tenants.client_address, which
    believes X-Forwarded-For only from our own proxies), with IPv6 taken by its /64 (one
    host usually holds the whole block)."""
    client = scope.get("client")
    host = address_of(client[0] if client else "", headers.get("x-forwarded-for", ""))
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return host


class UnknownKeyLimit:
    """Token buckets of INGEST_UNKNOWN_KEYS_PER_MINUTE per client, refilled evenly."""

    def __init__(self, timer=time.monotonic):
        self._timer = timer
        self._buckets = cachetools.LRUCache(_CLIENTS_MAX)  # client -> [tokens, time of the last refill]
        self._valid = TTLCache(_VALID_KEYS_MAX, _VALID_KEYS_SECONDS)  # raw key -> True
        self._lock = threading.Lock()

    def reserve(self, client, raw_key):
        """Take a token for a look-up of ``raw_key``: 0 when it may go ahead, else the whole
        seconds until the client has a token again."""
        if raw_key is not None and self._valid.get(raw_key):
            return 0
        per_minute = settings.INGEST_UNKNOWN_KEYS_PER_MINUTE
        now = self._timer()
        with self._lock:
            bucket = self._buckets.get(client)
            if bucket is None:
                bucket = self._buckets[client] = [float(per_minute), now]
            tokens = min(float(per_minute), bucket[0] + (now - bucket[1]) * per_minute / 60.0)
            bucket[1] = now
            if tokens < 1.0:
                bucket[0] = tokens
                return max(1, int((1.0 - tokens) * 60.0 / per_minute + 0.999))
            bucket[0] = tokens - 1.0
            return 0

    def found(self, client, raw_key):
        """The look-up ``reserve`` allowed found a valid key: give its token back."""
        if self._valid.get(raw_key):
            return  # ``reserve`` took none
        self._valid.set(raw_key, True)
        with self._lock:
            bucket = self._buckets.get(client)
            if bucket is not None:
                bucket[0] = min(float(settings.INGEST_UNKNOWN_KEYS_PER_MINUTE), bucket[0] + 1.0)


class PoolFull(Exception):
    """INGEST_LOOKUPS_MAX look-ups are already queued or running."""


class LookupPool:
    """A thread pool for look-ups that refuses work beyond INGEST_LOOKUPS_MAX instead of queueing it."""

    def __init__(self, executor):
        self.executor = executor
        self._in_flight = 0
        self._lock = threading.Lock()

    def run(self, fn, *args):
        """An awaitable of ``fn(*args)`` run on the pool; raises PoolFull when it is full."""
        with self._lock:
            if self._in_flight >= settings.INGEST_LOOKUPS_MAX:
                raise PoolFull()
            self._in_flight += 1
        # Counted down when the work ends, not when its caller stops waiting: a client that
        # hangs up does not free a place its look-up still holds.
        future = self.executor.submit(fn, *args)
        future.add_done_callback(self._done)
        return asyncio.wrap_future(future)

    def _done(self, _future):
        with self._lock:
            self._in_flight -= 1
