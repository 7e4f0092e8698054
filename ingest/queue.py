"""The hand-off between ingest and the workers: one Redis Stream with a consumer group.

Ingest runs ``enqueue``: a Lua script that, in one round trip, counts the payload
against its organisation's per-minute quota, checks the backlog bound and XADDs.
Workers (apm/consumer.py) XREADGROUP, apply, XACK + XDEL after their Postgres
commit, so XLEN is the backlog: entries not yet applied.
"""

import threading
import time

import redis
from django.conf import settings

from ingest import queued

GROUP = "rollup"


def stream():
    """The stream key (a setting, so tests and deployments can keep theirs apart)."""
    return settings.INGEST_STREAM


ACCEPTED, OVER_QUOTA, BACKLOG_FULL = 0, 1, 2

_ENQUEUE = """
local used = redis.call('INCR', KEYS[2])
if used == 1 then redis.call('EXPIRE', KEYS[2], 120) end
if used > tonumber(ARGV[1]) then return {1, ''} end
if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[2]) then
  redis.call('DECR', KEYS[2])
  return {2, ''}
end
local id = redis.call('XADD', KEYS[1], '*', 'o', ARGV[3], 'a', ARGV[4], 'f', ARGV[5], 'r', ARGV[6], 'b', ARGV[7])
return {0, id}
"""

_local = threading.local()


def client():
    """A Redis client per thread (redis-py clients hold a connection pool; cheap to share)."""
    c = getattr(_local, "client", None)
    if c is None or getattr(_local, "url", None) != settings.REDIS_URL:
        c = redis.Redis.from_url(settings.REDIS_URL)
        _local.client = c
        _local.url = settings.REDIS_URL
        _local.script = c.register_script(_ENQUEUE)
    return c


def _keys_args(org_id, app_id, body, now):
    minute = int(now // 60)
    keys = [stream(), f"pulse:quota:{org_id}:{minute}"]
    args = [settings.INGEST_QUOTA_PER_MINUTE, settings.INGEST_BACKLOG_MAX, org_id, str(app_id), queued.FORMAT, repr(now), body]
    return keys, args


def _result(reply, now):
    status, entry_id = reply
    if status == OVER_QUOTA:
        return OVER_QUOTA, max(1, int((int(now // 60) + 1) * 60 - now) + 1), None
    if status == BACKLOG_FULL:
        return BACKLOG_FULL, settings.INGEST_BACKLOG_RETRY_AFTER, None
    return ACCEPTED, 0, entry_id.decode() if isinstance(entry_id, bytes) else entry_id


def enqueue(org_id, app_id, body):
    """Queue one validated payload, ``body`` as made by ingest.queued.pack.

    Returns (status, retry_after_seconds, stream_id). Redis out of reach counts as a full
    backlog: the agent keeps the payload and retries after Retry-After."""
    now = time.time()
    keys, args = _keys_args(org_id, app_id, body, now)
    try:
        client()
        reply = _local.script(keys=keys, args=args)
    except (redis.ConnectionError, redis.TimeoutError):
        _local.client = None
        return BACKLOG_FULL, settings.INGEST_BACKLOG_RETRY_AFTER, None
    return _result(reply, now)


def backlog():
    return client().xlen(stream())
