"""The hand-off between ingest and the workers: one Redis Stream with a consumer group.

Ingest runs a Lua script that, in one round trip, counts the payload against its
organisation's per-minute quota, checks the global backlog bound and the organisation's
share of the backlog in bytes (contract/backlog.py), and XADDs: ``enqueue`` from
threads, ``Enqueuer.enqueue`` from the event loop of ingest/asgi.py. The stream and
its entries are the contract's (contract/stream.py). Workers (apm/consumer.py)
XREADGROUP, apply, XACK + XDEL after their Postgres commit, so XLEN is the backlog:
entries not yet applied.
"""

import asyncio
import time

import redis
import redis.asyncio
from django.conf import settings

from contract import backlog, stream
from contract.redis_client import client

ACCEPTED, OVER_QUOTA, BACKLOG_FULL, OVER_SHARE = 0, 1, 2, 3

# KEYS: stream, quota counter, backlog bytes per organisation.
# ARGV: quota, backlog bound, organisation, charge, share, then the entry's fields.
_ENQUEUE = """
local used = redis.call('INCR', KEYS[2])
if used == 1 then redis.call('EXPIRE', KEYS[2], 120) end
if used > tonumber(ARGV[1]) then return {1, ''} end
local queued = redis.call('XLEN', KEYS[1])
if queued >= tonumber(ARGV[2]) then
  redis.call('DECR', KEYS[2])
  return {2, ''}
end
if queued == 0 then redis.call('DEL', KEYS[3]) end
local held = tonumber(redis.call('HGET', KEYS[3], ARGV[3]) or '0')
if held > 0 and held + tonumber(ARGV[4]) > tonumber(ARGV[5]) then
  redis.call('DECR', KEYS[2])
  return {3, ''}
end
redis.call('HINCRBY', KEYS[3], ARGV[3], ARGV[4])
local id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 6))
return {0, id}
"""
_scripts = {}  # Redis URL -> the enqueue script registered with its client


def _keys_args(org_id, app_id, body, now):
    minute = int(now // 60)
    keys = [stream.key(), f"pulse:quota:{org_id}:{minute}", backlog.key()]
    args = [
        settings.INGEST_QUOTA_PER_MINUTE,
        settings.INGEST_BACKLOG_MAX,
        org_id,
        backlog.charge(body),
        settings.INGEST_BACKLOG_BYTES_PER_ORG,
        *stream.encode(org_id, app_id, now, body),
    ]
    return keys, args


_OUT_OF_REACH = (BACKLOG_FULL, "")  # the reply we act on when Redis cannot be reached


def _result(reply, now):
    status, entry_id = reply
    if status == OVER_QUOTA:
        return OVER_QUOTA, max(1, int((int(now // 60) + 1) * 60 - now) + 1), None
    if status in (BACKLOG_FULL, OVER_SHARE):
        return status, settings.INGEST_BACKLOG_RETRY_AFTER, None
    return ACCEPTED, 0, entry_id.decode() if isinstance(entry_id, bytes) else entry_id


def enqueue(org_id, app_id, body):
    """Queue one validated payload, ``body`` as made by contract.queued.pack.

    Returns (status, retry_after_seconds, stream_id). Redis out of reach counts as a full
    backlog: the agent keeps the payload and retries after Retry-After."""
    now = time.time()
    keys, args = _keys_args(org_id, app_id, body, now)
    url = settings.QUEUE_REDIS_URL
    script = _scripts.get(url)
    if script is None:
        script = _scripts[url] = client(url).register_script(_ENQUEUE)
    try:
        reply = script(keys=keys, args=args)
    except (redis.ConnectionError, redis.TimeoutError):
        reply = _OUT_OF_REACH
    return _result(reply, now)


class Enqueuer:
    """``enqueue`` for an event loop, without blocking it.

    Waiting for Redis to take a 45 KB entry is about as long as checking the next
    payload; a blocking call left the loop idle for it (a quarter of a busy web process's
    time, measured). Here the loop checks other requests meanwhile, and the payloads that
    arrive while one round trip is out go together in the next pipeline: under load,
    fewer round trips and Redis wake-ups; when idle, no waiting for company.
    """

    def __init__(self):
        self._loop = None

    def _bind(self, loop):
        # A client belongs to one event loop (tests run one per request).
        self._loop, self._url = loop, settings.QUEUE_REDIS_URL
        self._redis = redis.asyncio.Redis.from_url(self._url)
        self._sha = None
        self._pending = []
        self._flusher = None

    async def aclose(self):
        """Close the connections (called on the loop they were made on, before it ends)."""
        if self._loop is asyncio.get_running_loop():
            await self._redis.aclose()
            self._loop = None

    async def enqueue(self, org_id, app_id, body):
        """As ``enqueue``: (status, retry_after_seconds, stream_id)."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop or self._url != settings.QUEUE_REDIS_URL:
            self._bind(loop)
        now = time.time()
        reply = loop.create_future()
        self._pending.append((*_keys_args(org_id, app_id, body, now), reply))
        if self._flusher is None:
            self._flusher = loop.create_task(self._flush())
        return _result(await reply, now)

    async def _flush(self):
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    replies = await self._send(batch)
                except (redis.ConnectionError, redis.TimeoutError):
                    replies = [_OUT_OF_REACH] * len(batch)
                except Exception as exc:  # a bug: each waiting request answers 500 and logs it
                    replies = [exc] * len(batch)
                for (_, _, future), reply in zip(batch, replies):
                    if future.done():
                        continue
                    if isinstance(reply, Exception):
                        future.set_exception(reply)
                    else:
                        future.set_result(reply)
        finally:
            self._flusher = None

    async def _send(self, batch):
        if self._sha is None:
            self._sha = await self._redis.script_load(_ENQUEUE)
        replies = await self._pipeline(batch)
        if any(isinstance(r, redis.exceptions.NoScriptError) for r in replies):
            # Redis restarted or flushed its scripts: load it again; the failed calls did nothing.
            self._sha = await self._redis.script_load(_ENQUEUE)
            again = [i for i, r in enumerate(replies) if isinstance(r, redis.exceptions.NoScriptError)]
            for i, r in zip(again, await self._pipeline([batch[i] for i in again])):
                replies[i] = r
        return replies

    async def _pipeline(self, batch):
        async with self._redis.pipeline(transaction=False) as pipe:
            for keys, args, _ in batch:
                pipe.evalsha(self._sha, len(keys), *keys, *args)
            return await pipe.execute(raise_on_error=False)
