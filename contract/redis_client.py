"""The process-wide Redis client: one per URL (and timeout), shared by every thread.

A redis-py client is a connection pool, safe to share between threads and reset in a
forked child; one per process keeps the number of connections to Redis at what the
process actually uses at once. (ingest's asyncio Enqueuer keeps its own client: an
asyncio client belongs to one event loop.)
"""

import threading

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

_clients: dict[tuple[str, float | None], redis.Redis] = {}
_lock = threading.Lock()


def client(url: str | None = None, timeout: float | None = None) -> redis.Redis:
    """The client for ``url`` (default: settings.QUEUE_REDIS_URL, the durable role; pass
    settings.CACHE_REDIS_URL for what may be evicted). ``timeout`` (seconds) bounds
    connecting and each reply, for callers that must answer quickly (health probes): such
    a client does not retry, where redis-py's default retries with back-off for seconds."""
    k = (url or settings.QUEUE_REDIS_URL, timeout)
    c = _clients.get(k)
    if c is None:
        with _lock:
            c = _clients.get(k)
            if c is None:
                quick = {} if timeout is None else {"retry": Retry(NoBackoff(), 0)}
                c = _clients[k] = redis.Redis.from_url(
                    k[0], socket_connect_timeout=timeout, socket_timeout=timeout, **quick
                )
    return c
