"""Workers that cannot be poisoned: reads bounded in bytes, suspects applied alone, and an
entry that kills every consumer holding it set aside after INGEST_MAX_DELIVERIES."""

import os
import signal
import time

import psycopg
import pytest
import redis
from django.conf import settings
from django.db import connection

from apm.consumer import Consumer, ensure_group
from apm.models import ProcessedBatch, TransactionMinute
from apm.stream_reader import size
from contract.stream import GROUP, dead_key
from ingest.handoff import enqueue
from tenants.models import App
from tests.ingest import payloads as P
from tests.ingest.test_worker import start_worker, stop, wait_for

APP_ID = "00000000-0000-0000-0000-000000000001"


def post(client, key, p):
    r = client.post("/api/v1/ingest", P.body(p), content_type="application/json", **P.headers(key))
    assert r.status_code == 202, r.content


def pending(r, stream):
    return r.xpending(stream, GROUP)["pending"]


def test_a_read_holds_no_more_entries_than_fit_in_its_byte_budget(private_stream, settings):
    settings.INGEST_BATCH_MAX_BYTES = 3_500
    r = redis.Redis.from_url(settings.REDIS_URL)
    for n in range(8):
        enqueue(1, APP_ID, bytes([n]) * 1_000)
    consumer = Consumer(name="bytes-test", linger_ms=0)
    first = consumer.read(block_ms=1)
    assert len(first) == 3 and size(first) <= 3_500
    assert pending(r, private_stream) == 3  # read means held: the rest is still for anyone
    enqueue(1, APP_ID, b"x" * 10_000)  # larger than the whole budget: read alone, after the others
    reads = [len(consumer.read(block_ms=1)) for _ in range(3)]
    assert reads == [3, 2, 1]
    assert consumer.read(block_ms=1) == []


@pytest.mark.django_db
def test_the_consumer_applies_everything_a_few_payloads_a_read(client, org, ingest_key, private_stream, settings):
    payloads = [P.simple(seed=i) for i in range(6)]
    for p in payloads:
        post(client, ingest_key, p)
    r = redis.Redis.from_url(settings.REDIS_URL)
    one = max(len(fields[b"b"]) + 100 for _, fields in r.xrange(private_stream))
    settings.INGEST_BATCH_MAX_BYTES = 2 * one
    consumer = Consumer(name="bytes-apply", linger_ms=0)
    steps = []
    while n := consumer.step(block_ms=1):
        steps.append(n)
    assert steps == [2, 2, 2]
    assert TransactionMinute.objects.for_org(org).get().count == 60
    assert r.xlen(private_stream) == 0


@pytest.mark.django_db
def test_entries_left_by_a_dead_consumer_are_claimed_suspects_alone(client, org, ingest_key, private_stream,
                                                                     settings):
    settings.INGEST_CLAIM_IDLE_SECONDS = 0.1
    for i in range(4):
        post(client, ingest_key, P.simple(seed=i))
    r = redis.Redis.from_url(settings.REDIS_URL)
    assert len(Consumer(name="died-holding-them", linger_ms=0).read(block_ms=1)) == 4  # and never acks
    time.sleep(0.2)
    healthy = Consumer(name="healthy", linger_ms=0)
    # Each may be what killed its consumer: one a claim, and the others go on without it.
    assert [healthy.step(block_ms=1) for _ in range(5)] == [1, 1, 1, 1, 0]
    assert TransactionMinute.objects.for_org(org).get().count == 40
    assert pending(r, private_stream) == 0 and r.xlen(dead_key()) == 0


@pytest.mark.django_db
def test_entries_handed_back_after_a_transient_failure_do_not_become_suspects(client, org, ingest_key,
                                                                              private_stream, settings):
    settings.INGEST_CLAIM_IDLE_SECONDS = 30
    settings.INGEST_MAX_DELIVERIES = 1
    for i in range(3):
        post(client, ingest_key, P.simple(seed=i))
    r = redis.Redis.from_url(settings.REDIS_URL)
    gave_up = Consumer(name="database-unreachable", linger_ms=0)
    entries = gave_up.read(block_ms=1)
    gave_up.reader.release([entry_id for entry_id, _ in entries], 1, 30_000)
    (info,) = {(p["consumer"], p["times_delivered"]) for p in r.xpending_range(private_stream, GROUP, "-", "+", 10)}
    assert info == (b"database-unreachable", 0)
    # Claimable at once, together, and applied although at most one delivery is allowed.
    assert Consumer(name="next", linger_ms=0).step(block_ms=1) == 3
    assert ProcessedBatch.objects.for_org(org).count() == 3
    assert r.xlen(dead_key()) == 0


def test_entries_of_a_read_whose_reply_was_lost_are_claimed_at_once(client, org, ingest_key, private_stream,
                                                                    settings):
    settings.INGEST_CLAIM_IDLE_SECONDS = 60
    settings.INGEST_MAX_DELIVERIES = 1
    for i in range(3):
        post(client, ingest_key, P.simple(seed=i))
    r = redis.Redis.from_url(settings.REDIS_URL)
    consumer = Consumer(name="lost-reply", linger_ms=0)
    # Redis delivers to the consumer and the reply never reaches it (Redis restarted mid-read).
    r.xreadgroup(GROUP, "lost-reply", {private_stream: ">"}, count=10)
    assert consumer.step(block_ms=1) == 0  # nothing new; nothing idle for the claim timeout yet
    consumer.lost_read = True  # as run() marks it when a step fails on Redis
    # Handed back and claimed as one batch, not as suspects, without waiting the minute.
    assert consumer.step(block_ms=1) == 3
    assert ProcessedBatch.objects.for_org(org).count() == 3
    assert r.xlen(dead_key()) == 0 and pending(r, private_stream) == 0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_an_entry_that_kills_each_worker_holding_it_is_set_aside_after_n_deliveries(client, org, ingest_key,
                                                                                      private_stream):
    stuck = App.objects.for_org(org).create(organization=org, name="stuck")
    db = connection.settings_dict
    # Another session creates the stuck app's transaction name and does not commit: a worker
    # applying the poison entry waits for it, holding the entry, until it is killed.
    blocker = psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"])
    blocker.execute(
        "INSERT INTO apm_transaction (organization_id, app_id, type, name, created_at) VALUES (%s, %s, 'web', %s, now())",
        [org.pk, stuck.pk, "poison"],
    )
    r = redis.Redis.from_url(settings.REDIS_URL)
    ensure_group(r, private_stream)
    worker = None
    try:
        for i in range(2):
            post(client, ingest_key, P.simple(seed=i))
        post(client, ingest_key, P.simple(app="stuck", name="poison"))
        for i in range(2, 4):
            post(client, ingest_key, P.simple(seed=i))
        (poison,) = [i for i, f in r.xrange(private_stream) if f[b"a"] == str(stuck.pk).encode()]
        worker = start_worker(private_stream, INGEST_MAX_DELIVERIES="3")

        def holder(delivery):
            info = r.xpending_range(private_stream, GROUP, poison, poison, 1)
            return info and info[0]["times_delivered"] == delivery and info[0]["consumer"].decode()

        for delivery in (1, 2, 3):
            name = None

            def held():
                nonlocal name
                name = holder(delivery)
                return bool(name)

            assert wait_for(held, timeout=60), f"delivery {delivery}"
            os.kill(int(name.rsplit("-", 2)[1]), signal.SIGKILL)  # the process, as the OOM killer would
        assert wait_for(lambda: r.xlen(dead_key()) == 1, timeout=60)
        assert wait_for(lambda: ProcessedBatch.objects.for_org(org).count() == 4, timeout=60)
        assert wait_for(lambda: r.xlen(private_stream) == 0)
    finally:
        blocker.rollback()
        blocker.close()
        if worker is not None:
            stop(worker)
    ((_, letter),) = r.xrange(dead_key())
    assert letter[b"a"] == str(stuck.pk).encode()
    assert b"delivered 3 times without being applied" in letter[b"error"]
    assert TransactionMinute.objects.for_org(org).get(app__name="shop").count == 40
