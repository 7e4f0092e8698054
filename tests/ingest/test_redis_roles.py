"""The two Redis roles on two Redis servers: flushing the cache role (which may evict) loses
no payload, because the ingest stream and the broker live on the queue role."""

import time

import pytest
import redis

from apm.models import ProcessedBatch
from tests.ingest import payloads as P
from tests.ingest.test_worker import post, start_worker, stop, wait_for
from tests.servers import RedisServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def cache_redis(tmp_path):
    """A Redis server of this test's own for the cache role, so it can be flushed."""
    server = RedisServer(tmp_path, aof=False, eviction="allkeys-lru").start()
    yield server.url
    server.stop()


def test_flushing_the_cache_role_midway_loses_no_payload(settings, client, org, ingest_key, private_stream, cache_redis):
    queue_url = settings.REDIS_URL
    # REDIS_URL, every role's default, is the cache's here: only the queue role is set apart,
    # so whatever still read REDIS_URL for the stream or the broker would be flushed below.
    settings.REDIS_URL = settings.CACHE_REDIS_URL = cache_redis
    settings.QUEUE_REDIS_URL = queue_url
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": cache_redis}}
    queue, cache = redis.Redis.from_url(queue_url), redis.Redis.from_url(cache_redis)
    minute = int(time.time()) // 60 * 60 - 60
    payloads = [P.payload("shop", metrics=[P.metric("checkout", [0.1 * (i + 1)], minute)]) for i in range(2)]
    worker = None
    try:
        post(client, ingest_key, payloads[0])
        assert queue.xlen(private_stream) == 1 and not cache.exists(private_stream)
        cache.flushall()  # midway: accepted, not yet applied
        worker = start_worker(private_stream, REDIS_URL=cache_redis, QUEUE_REDIS_URL=queue_url, CACHE_REDIS_URL=cache_redis)
        assert wait_for(lambda: ProcessedBatch.objects.for_org(org).count() == 1)
        cache.flushall()  # and again while the worker runs
        post(client, ingest_key, payloads[1])
        assert wait_for(lambda: ProcessedBatch.objects.for_org(org).count() == 2)
        assert wait_for(lambda: queue.xlen(private_stream) == 0)
    finally:
        if worker is not None:
            stop(worker)
        queue.delete(private_stream, f"{private_stream}:dead")
        settings.REDIS_URL = queue_url  # for the stream fixture's own clean-up, after this server stops
