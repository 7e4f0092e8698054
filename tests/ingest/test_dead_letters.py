"""The dead-letter stream: never trimmed, an alarm in the logs and on /healthz/ready, and
``manage.py dead_letters`` to list, show, replay and discard what waits there."""

import io
import logging
import time

import pytest
import redis
from django.conf import settings
from django.core.management import CommandError, call_command

from apm.consumer import Consumer
from apm.models import ProcessedBatch, TransactionMinute
from contract import backlog
from contract.stream import dead_key
from tests.ingest import payloads as P
from tests.ingest.conftest import drain

pytestmark = pytest.mark.django_db


def post(client, key, p):
    r = client.post("/api/v1/ingest", P.body(p), content_type="application/json", **P.headers(key))
    assert r.status_code == 202, r.content


def manage(*args):
    out = io.StringIO()
    call_command("dead_letters", *args, stdout=out, stderr=out)
    return out.getvalue()


def set_aside(client, key, p):
    """Queue ``p`` and have it dead-lettered as a worker would after too many deliveries."""
    post(client, key, p)
    Consumer(name="died-holding-it", linger_ms=0).read(block_ms=1)  # and never acks
    time.sleep(0.15)
    assert Consumer(name="next", linger_ms=0).step(block_ms=1) == 1
    return redis.Redis.from_url(settings.REDIS_URL).xrange(dead_key())[-1][0].decode()


@pytest.fixture
def one_delivery(settings):
    settings.INGEST_CLAIM_IDLE_SECONDS = 0.1
    settings.INGEST_MAX_DELIVERIES = 1


def test_the_dead_letter_stream_is_not_trimmed(private_stream):
    r = redis.Redis.from_url(settings.REDIS_URL)
    pipe = r.pipeline(transaction=False)
    for n in range(10_200):
        pipe.xadd(dead_key(), {"o": 1, "error": f"earlier {n}"})
    pipe.execute()
    r.xadd(private_stream, {"o": 1, "a": "app", "f": "m", "r": "1.0", "b": b"\x90"})  # a form no worker knows
    assert Consumer(name="trim-test").step(block_ms=1) == 1
    assert r.xlen(dead_key()) == 10_201


def test_past_the_alarm_the_logs_and_readiness_say_dead_letters_wait(client, private_stream, settings, caplog):
    settings.INGEST_DEAD_LETTER_ALARM = 2
    r = redis.Redis.from_url(settings.REDIS_URL)
    consumer = Consumer(name="alarm-test")
    assert client.get("/healthz/ready").json()["dead_letters"] == {"waiting": 0, "alarm_at": 2, "alarm": False}
    with caplog.at_level(logging.ERROR, logger="apm.dead_letters"):
        r.xadd(private_stream, {"o": 1, "f": "m"})
        consumer.step(block_ms=1)
        assert not [rec for rec in caplog.records if rec.name == "apm.dead_letters"]
        r.xadd(private_stream, {"o": 1, "f": "m"})
        consumer.step(block_ms=1)
    (alarm,) = [rec.getMessage() for rec in caplog.records if rec.name == "apm.dead_letters"]
    assert alarm.startswith("2 dead letters waiting")
    ready = client.get("/healthz/ready")
    assert ready.status_code == 200  # still ready: the letters wait for an operator, not for this process
    assert ready.json() == {"status": "ok", "dead_letters": {"waiting": 2, "alarm_at": 2, "alarm": True}}


def test_it_lists_and_shows_a_dead_letter_with_its_reason_organisation_and_app(client, org, ingest_key,
                                                                               one_delivery):
    minute = int(time.time()) // 60 * 60 - 120
    p = P.simple(app="shop", minute=minute)
    dead_id = set_aside(client, ingest_key, p)
    listing = manage("list")
    assert listing.splitlines()[0] == "1 dead letters waiting"
    assert dead_id in listing and f"org {org.pk} (acme)" in listing and "(shop)" in listing
    assert "delivered 1 times without being applied" in listing
    shown = manage("show", dead_id)
    assert "reason        delivered 1 times without being applied" in shown
    assert f"organisation  {org.pk} (acme)" in shown
    assert f"batch         {p['batch_id']}" in shown
    assert f"metrics       1 (minutes {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(minute))})" in shown
    assert "events        5" in shown
    with pytest.raises(CommandError, match="no dead letter 1-1"):
        manage("show", "1-1")


def test_a_replayed_dead_letter_is_applied_and_leaves_the_dead_letter_stream(client, org, ingest_key,
                                                                             one_delivery, private_stream):
    dead_id = set_aside(client, ingest_key, P.simple())
    r = redis.Redis.from_url(settings.REDIS_URL)
    assert ProcessedBatch.objects.for_org(org).count() == 0
    assert f"{dead_id} queued again on {private_stream}" in manage("replay", dead_id)
    assert r.xlen(dead_key()) == 0 and r.xlen(private_stream) == 1
    # Charged to the organisation's backlog share as ingest charges it, and taken off once applied.
    (_, fields), = r.xrange(private_stream)
    assert int(r.hget(f"{private_stream}:backlog", org.pk)) == backlog.charge(fields[b"b"])
    assert drain(Consumer(name="after-replay", linger_ms=0)) == 1
    assert not r.hexists(f"{private_stream}:backlog", org.pk)
    assert TransactionMinute.objects.for_org(org).get().count == 10
    assert "no dead letter" in manage("replay", dead_id)
    with pytest.raises(CommandError):
        manage("replay")


def test_replay_all_and_discard(client, org, ingest_key, one_delivery, private_stream):
    first = set_aside(client, ingest_key, P.simple(seed=1))
    second = set_aside(client, ingest_key, P.simple(seed=2))
    r = redis.Redis.from_url(settings.REDIS_URL)
    assert f"{first} discarded" in manage("discard", first)
    assert [i.decode() for i, _ in r.xrange(dead_key())] == [second]
    manage("replay", "--all")
    assert r.xlen(dead_key()) == 0
    assert drain(Consumer(name="after-replay", linger_ms=0)) == 1
    assert ProcessedBatch.objects.for_org(org).count() == 1
