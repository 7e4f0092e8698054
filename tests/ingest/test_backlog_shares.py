"""Each organisation's share of the backlog, in bytes of queued entries: one organisation
over its share is told 429 while the others go on, and the counts stay exact through
acks, redeliveries and dead letters. Through the ASGI fast path, real Redis and the real
consumer."""

import json
import time

import pytest
import redis
from django.conf import settings

from apm.consumer import Consumer
from contract import backlog
from contract.builders import span
from contract.stream import parse
from ingest import handoff
from ingest.asgi import wrap
from tests.ingest import payloads as P
from tests.ingest.conftest import drain
from tests.ingest.test_asgi import call, headers, not_django, post_many, run

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def shares_of_three(settings, fresh_quota, outsider_org, private_stream):
    """Room for three small payloads per organisation (each is charged the minimum)."""
    settings.INGEST_BACKLOG_BYTES_PER_ORG = 3 * backlog.MIN_CHARGE
    r = redis.Redis.from_url(settings.REDIS_URL)
    yield
    r.delete(backlog.key(private_stream))


def counts():
    raw = redis.Redis.from_url(settings.REDIS_URL).hgetall(backlog.key())
    return {int(org): int(n) for org, n in raw.items()}


def test_an_organisation_over_its_share_is_told_429_and_the_others_go_on(org, outsider_org, ingest_key,
                                                                          outsider_key, consumer):
    app = wrap(not_django)
    assert post_many(app, ingest_key, 1)[0][0] == 202  # then key and app are cached
    answers = post_many(app, ingest_key, 3)
    assert sorted(status for status, _ in answers) == [202, 202, 429]
    (refused,) = [body for status, body in answers if status == 429]
    assert refused["error"]["code"] == "backlog_share_full"
    assert "share of the backlog" in refused["error"]["message"]
    status, hdrs, _ = run(call(app, "POST", "/api/v1/ingest", headers(ingest_key), [P.body(P.simple())]))
    assert status == 429 and int(hdrs[b"retry-after"]) == settings.INGEST_BACKLOG_RETRY_AFTER
    # The neighbour is unharmed.
    assert [status for status, _ in post_many(app, outsider_key, 3)] == [202, 202, 202]
    assert counts() == {org.pk: 3 * backlog.MIN_CHARGE, outsider_org.pk: 3 * backlog.MIN_CHARGE}
    # Once the workers caught up, the organisation has its whole share again.
    drain(consumer)
    assert counts() == {}
    assert [status for status, _ in post_many(app, ingest_key, 3)] == [202, 202, 202]


def test_an_entry_acked_twice_is_taken_off_its_share_once(org, outsider_org, ingest_key, outsider_key,
                                                          private_stream, settings):
    app = wrap(not_django)
    post_many(app, ingest_key, 2)
    stale = Consumer(name="slow")  # reads the two entries, then stalls past the claim timeout
    entries = [parse(i, f) for i, f in stale.read(block_ms=1)]
    assert len(entries) == 2
    post_many(app, outsider_key, 1)  # still queued below: the stream never empties
    settings.INGEST_CLAIM_IDLE_SECONDS = 0.001
    time.sleep(0.01)
    taker = Consumer(name="taker")
    # Claimed (suspects, delivered before: one at a time), applied and acked.
    assert [taker.step(block_ms=1), taker.step(block_ms=1)] == [1, 1]
    stale.ack(entries)  # the slow consumer comes back and acks what was taken over
    assert counts() == {outsider_org.pk: backlog.MIN_CHARGE}
    # Exactly three more fit: a count taken off twice would let more in.
    assert sorted(status for status, _ in post_many(app, ingest_key, 4)) == [202, 202, 202, 429]


def test_a_dead_lettered_entry_gives_its_share_back(org, ingest_key, consumer, private_stream):
    app = wrap(not_django)
    post_many(app, ingest_key, 1)
    (app_id,) = {f[b"a"].decode() for _, f in redis.Redis.from_url(settings.REDIS_URL).xrange(private_stream)}
    # A payload no worker can apply, queued as ingest queues one.
    assert handoff.enqueue(org.pk, app_id, b"\xc1 not the queued form")[0] == handoff.ACCEPTED
    assert counts() == {org.pk: 2 * backlog.MIN_CHARGE}
    drain(consumer)
    r = redis.Redis.from_url(settings.REDIS_URL)
    assert r.xlen(f"{private_stream}:dead") == 1 and r.xlen(private_stream) == 0
    assert counts() == {}


def test_a_payload_too_large_once_queued_is_refused_413(ingest_key):
    """A few KB of gzip can expand a thousandfold; the queue takes the expanded form."""
    now = time.time() - 60
    attrs = {f"attr{n}": "x" * 4000 for n in range(16)}
    spans = [span(f"{n:016x}", None, "python", "work", 0.0, 0.01, attrs) for n in range(100)]
    big = P.payload("shop", traces=[P.trace("shop.views.checkout", now, 0.5, spans=spans)])
    body = P.body(big)
    assert len(body) < 64 * 1024
    status, _, out = run(call(wrap(not_django), "POST", "/api/v1/ingest", headers(ingest_key), [body]))
    assert status == 413, out
    error = json.loads(out)["error"]
    assert error["code"] == "too_large" and error["field"] == "body"
    assert f"over the limit of {settings.INGEST_ENTRY_MAX_BYTES}" in error["message"]
    assert redis.Redis.from_url(settings.REDIS_URL).xlen(settings.INGEST_STREAM) == 0
