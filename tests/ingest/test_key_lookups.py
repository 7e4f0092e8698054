"""Strangers cannot stall ingest's key look-ups: the key is checked before the body is read,
unknown keys are remembered apart from known ones, each client address may look up only so
many unknown keys, and the look-up pool refuses work instead of queueing it without bound.
All through the ASGI fast path (ingest/asgi.py) on the real database and Redis."""

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import redis
from asgiref.testing import ApplicationCommunicator
from django.conf import settings
from django.db import connection, connections

import ingest.asgi as ingest_asgi
from ingest import handler
from ingest.asgi import wrap
from ingest.lookups import LookupPool, UnknownKeyLimit
from tenants import keys
from tenants.caching import AnswerCache
from tests.ingest import payloads as P
from tests.ingest.test_asgi import headers, not_django, run

pytestmark = pytest.mark.django_db(transaction=True)

FLOODER = ("198.51.100.7", 40000)
NEIGHBOUR = ("198.51.100.8", 40000)


@pytest.fixture(autouse=True)
def fresh_lookups(monkeypatch):
    """A one-thread look-up pool (its connection closed afterwards) and empty token buckets."""
    pool = ThreadPoolExecutor(max_workers=1)
    monkeypatch.setattr(ingest_asgi, "_lookups", LookupPool(pool))
    monkeypatch.setattr(ingest_asgi, "_unknown_keys", UnknownKeyLimit())
    yield
    pool.submit(connections.close_all).result()
    pool.shutdown()


async def post(app, key, client=FLOODER, send_body=True, timeout=10, forwarded_for=None):
    """One POST of a valid payload from ``client``; without ``send_body``, the body is never
    offered to the app."""
    extra = [(b"x-forwarded-for", forwarded_for.encode())] if forwarded_for else []
    scope = {"type": "http", "method": "POST", "path": "/api/v1/ingest", "headers": headers(key) + extra,
             "query_string": b"", "client": client}
    comm = ApplicationCommunicator(app, scope)
    if send_body:
        await comm.send_input({"type": "http.request", "body": P.body(P.simple()), "more_body": False})
    start = await comm.receive_output(timeout)
    out = await comm.receive_output(timeout)
    await comm.wait(timeout)
    return start["status"], dict(start["headers"]), json.loads(out["body"])


def unknown_key():
    return keys.generate_key()  # well formed, never stored


def test_an_unknown_key_is_refused_before_the_body_is_read():
    status, _, out = run(post(wrap(not_django), unknown_key(), send_body=False))
    assert status == 401 and out["error"]["code"] == "unauthorized"
    status, _, out = run(post(wrap(not_django), "not-even-a-key", send_body=False))
    assert status == 401


def test_a_known_key_is_looked_up_and_then_its_body_read(ingest_key):
    status, _, out = run(post(wrap(not_django), ingest_key))
    assert status == 202, out
    assert redis.Redis.from_url(settings.REDIS_URL).xlen(settings.INGEST_STREAM) == 1


def test_a_client_looking_up_unknown_keys_is_told_429_and_no_one_else_is(ingest_key, settings):
    settings.INGEST_UNKNOWN_KEYS_PER_MINUTE = 3
    settings.INGEST_KEY_CACHE_SECONDS = 0  # nothing cached: every request is a look-up
    app = wrap(not_django)

    async def go():
        real = await post(app, ingest_key)
        unknown = [await post(app, unknown_key()) for _ in range(3)]
        refused = await post(app, unknown_key())
        neighbour = await post(app, unknown_key(), client=NEIGHBOUR)
        # A key found valid lately is still looked up for the flooder's address (a proxy,
        # a NAT: the flooder's neighbours behind it keep sending).
        real_again = await post(app, ingest_key)
        return real, unknown, refused, neighbour, real_again

    real, unknown, refused, neighbour, real_again = run(go())
    assert real[0] == 202 and real_again[0] == 202
    assert [status for status, _, _ in unknown] == [401, 401, 401]
    status, hdrs, out = refused
    assert status == 429 and out["error"]["code"] == "too_many_unknown_keys"
    assert out["error"]["field"] == "Authorization"
    assert int(hdrs[b"retry-after"]) >= 1
    assert neighbour[0] == 401


def test_the_limit_keys_on_the_client_a_trusted_proxy_names_and_on_nothing_else_forwarded(settings):
    """X-Forwarded-For counts only from PULSE_TRUSTED_PROXIES (tenants.client_address): a
    flooder cannot pass for a new client by sending the header itself, and the clients
    behind our own proxy do not share one bucket."""
    import ipaddress

    settings.INGEST_UNKNOWN_KEYS_PER_MINUTE = 1
    proxy = ("10.0.0.5", 40000)
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("10.0.0.0/24")]
    app = wrap(not_django)

    async def go():
        spoofed = [(await post(app, unknown_key(), forwarded_for=f"203.0.113.{n}"))[0] for n in range(2)]
        behind_proxy = [(await post(app, unknown_key(), client=proxy, forwarded_for=f"192.0.2.{n}"))[0]
                        for n in range(2)]
        again = (await post(app, unknown_key(), client=proxy, forwarded_for="192.0.2.0"))[0]
        return spoofed, behind_proxy, again

    spoofed, behind_proxy, again = run(go())
    assert spoofed == [401, 429]
    assert behind_proxy == [401, 401]
    assert again == 429


def test_the_same_unknown_key_again_costs_no_look_up(settings):
    settings.INGEST_UNKNOWN_KEYS_PER_MINUTE = 1
    app = wrap(not_django)
    bad = unknown_key()

    async def go():
        again = [(await post(app, bad))[0] for _ in range(20)]
        return again, (await post(app, unknown_key()))[0]

    again, another = run(go())
    assert again == [401] * 20  # one look-up, then remembered: the bucket's one token is spent once
    assert another == 429


@pytest.fixture
def lock():
    """A connection of its own to the test database, to lock tables with."""
    db = connection.settings_dict
    conn = psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"])
    yield conn
    conn.close()


def lock_the_keys_table(lock):
    lock.execute("LOCK TABLE tenants_ingestkey IN ACCESS EXCLUSIVE MODE")


def test_a_flood_of_unknown_keys_does_not_push_known_keys_out(ingest_key, monkeypatch, settings, lock):
    # Small caches of the kind ingest uses, so the flood is many times their size.
    settings.INGEST_KEY_CACHE_SECONDS = 60
    monkeypatch.setattr(handler, "_keys", AnswerCache(8, 60, 8, 60))
    monkeypatch.setattr(keys, "_cache", AnswerCache(8, 60, 8, 60))
    app = wrap(not_django)

    async def go():
        first = await post(app, ingest_key)
        flood = [await post(app, unknown_key(), client=(f"203.0.113.{n}", 1)) for n in range(40)]
        # With the keys table locked, only a cached answer can let the real key through.
        lock_the_keys_table(lock)
        try:
            after = await post(app, ingest_key)
        finally:
            lock.commit()
        return first, flood, after

    first, flood, after = run(go())
    assert first[0] == 202 and {status for status, _, _ in flood} == {401}
    assert after[0] == 202, after


def test_a_full_look_up_pool_answers_503_at_once(settings, lock):
    """With the keys table locked, the one look-up allowed waits; the next is refused
    at once instead of queueing behind it, and the pool takes work again when it ends."""
    settings.INGEST_LOOKUPS_MAX = 1
    app = wrap(not_django)

    def lookups_waiting_for_the_lock():
        with lock.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock'"
            )
            return cursor.fetchone()[0]

    async def go():
        lock_the_keys_table(lock)
        waiting = asyncio.create_task(post(app, unknown_key(), client=NEIGHBOUR))
        try:
            for _ in range(200):
                if lookups_waiting_for_the_lock():
                    break
                await asyncio.sleep(0.05)
            else:
                pytest.fail("the first look-up never reached the database")
            refused = await post(app, unknown_key())
        finally:
            lock.commit()
        return await waiting, refused, await post(app, unknown_key())

    waited, refused, after = run(go())
    status, hdrs, out = refused
    assert status == 503 and out["error"]["code"] == "unavailable"
    assert int(hdrs[b"retry-after"]) >= 1
    assert waited[0] == 401 and after[0] == 401
