"""Fixtures for the ingest pipeline tests: ingest keys, a private stream, a consumer."""

import uuid

import pytest
import redis

from apm.consumer import Consumer
from ingest.app_resolver import clear_app_cache
from tenants import keys
from tenants.models import IngestKey


def make_key(org, label="test"):
    raw = keys.generate_key()
    IngestKey.objects.for_org(org).create(
        organization=org, label=label, prefix=raw[: keys.SHOWN_PREFIX_LENGTH], key_hash=keys.hash_key(raw)
    )
    return raw


@pytest.fixture
def ingest_key(org):
    return make_key(org)


@pytest.fixture
def outsider_key(outsider_org):
    return make_key(outsider_org)


@pytest.fixture(autouse=True)
def private_stream(settings):
    """Each test gets its own stream, so no other consumer (or test) sees its entries."""
    name = f"pulse:ingest:test:{uuid.uuid4().hex}"
    settings.INGEST_STREAM = name
    keys.clear_key_cache()
    clear_app_cache()
    yield name
    r = redis.Redis.from_url(settings.REDIS_URL)
    r.delete(name, f"{name}:dead", f"{name}:backlog")
    keys.clear_key_cache()
    clear_app_cache()


@pytest.fixture
def fresh_quota(org, settings):
    """``org``'s quota counters cleared: organisation ids repeat from one test run to the
    next, and the counters live in Redis for two minutes."""
    r = redis.Redis.from_url(settings.REDIS_URL)
    for counter in r.scan_iter(f"pulse:quota:{org.pk}:*"):
        r.delete(counter)


@pytest.fixture
def consumer(private_stream):
    return Consumer(name="test-consumer")


def drain(consumer):
    """Apply everything queued so far; returns the number of entries handled."""
    total = 0
    while True:
        n = consumer.step(block_ms=1)
        if not n:
            return total
        total += n
