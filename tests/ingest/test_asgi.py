"""The ASGI fast path that production serves POST /api/v1/ingest through (pulse/asgi.py)."""

import asyncio
import json

import pytest
import redis
from asgiref.testing import ApplicationCommunicator
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import connections

import ingest.asgi as ingest_asgi

from ingest.asgi import wrap
from ingest.lookups import LookupPool
from contract.schema import MAX_COMPRESSED_BYTES
from tests.ingest import payloads as P
from tests.ingest.conftest import make_key


async def not_django(scope, receive, send):
    await send({"type": "http.response.start", "status": 299, "headers": []})
    await send({"type": "http.response.body", "body": b"django"})


def run(coro):
    """asyncio.run, closing the ingest queue's connections before the loop ends."""

    async def go():
        try:
            return await coro
        finally:
            await ingest_asgi._enqueuer.aclose()
            await ingest_asgi.live_flag.watched.aclose()

    return asyncio.run(go())


async def call(app, method, path, headers, chunks):
    scope = {"type": "http", "method": method, "path": path, "headers": headers, "query_string": b""}
    comm = ApplicationCommunicator(app, scope)
    for n, chunk in enumerate(chunks):
        await comm.send_input({"type": "http.request", "body": chunk, "more_body": n < len(chunks) - 1})
    start = await comm.receive_output(10)
    body = await comm.receive_output(10)
    await comm.wait(10)
    return start["status"], dict(start["headers"]), body["body"]


@pytest.fixture(autouse=True)
def one_thread_pool(monkeypatch):
    """A pool whose one thread's database connection is closed afterwards."""
    pool = ThreadPoolExecutor(max_workers=1)
    monkeypatch.setattr(ingest_asgi, "_lookups", LookupPool(pool))
    yield
    pool.submit(connections.close_all).result()
    pool.shutdown()


def headers(key):
    return [(b"authorization", f"Bearer {key}".encode()), (b"content-type", b"application/json"),
            (b"content-encoding", b"gzip")]


@pytest.mark.django_db(transaction=True)
def test_it_accepts_through_the_fast_path(ingest_key, monkeypatch):
    app = wrap(not_django)
    body = P.body(P.simple())
    status, hdrs, out = run(call(app, "POST", "/api/v1/ingest", headers(ingest_key), [body[:100], body[100:]]))
    assert status == 202, out
    assert hdrs[b"content-type"] == b"application/json" and json.loads(out)["apdex_t"] == 0.5
    assert redis.Redis.from_url(settings.REDIS_URL).xlen(settings.INGEST_STREAM) == 1
    # Now key and app are cached: answered on the event loop, without the thread pool.
    monkeypatch.setattr(ingest_asgi, "_lookups", None)
    status, _, out = run(call(app, "POST", "/api/v1/ingest", headers(ingest_key), [P.body(P.simple())]))
    assert status == 202, out
    assert redis.Redis.from_url(settings.REDIS_URL).xlen(settings.INGEST_STREAM) == 2
    status, _, out = run(call(app, "GET", "/anything", [], [b""]))
    assert (status, out) == (299, b"django")


@pytest.mark.django_db(transaction=True)
def test_it_stops_reading_an_oversized_body(ingest_key):
    chunk = b"x" * (256 * 1024)
    status, _, out = run(call(wrap(not_django), "POST", "/api/v1/ingest", headers(ingest_key), [chunk] * 5))
    assert status == 413 and json.loads(out)["error"]["code"] == "too_large"
    assert MAX_COMPRESSED_BYTES < 5 * len(chunk)


def post_many(app, key, n):
    """``n`` posts at once on one event loop: (status, body) of each."""

    async def go():
        results = await asyncio.gather(
            *(call(app, "POST", "/api/v1/ingest", headers(key), [P.body(P.simple())]) for _ in range(n))
        )
        return [(status, json.loads(out)) for status, _, out in results]

    return run(go())


@pytest.mark.django_db(transaction=True)
def test_payloads_posted_together_are_each_queued_once(ingest_key):
    app = wrap(not_django)
    post_many(app, ingest_key, 1)  # warms the key and app caches: the rest is checked on the loop
    answers = post_many(app, ingest_key, 12)
    assert [status for status, _ in answers] == [202] * 12, answers
    r = redis.Redis.from_url(settings.REDIS_URL)
    entries = r.xrange(settings.INGEST_STREAM)
    assert len(entries) == 13
    assert len({fields[b"r"] + fields[b"b"] for _, fields in entries}) == 13  # no entry twice


@pytest.mark.django_db(transaction=True)
def test_the_loop_answers_429_over_quota_and_503_over_backlog(ingest_key, fresh_quota, settings):
    app = wrap(not_django)
    settings.INGEST_QUOTA_PER_MINUTE = 3
    settings.INGEST_BACKLOG_MAX = 2
    answers = post_many(app, ingest_key, 3)
    assert sorted(status for status, _ in answers) == [202, 202, 503]
    assert [body["error"]["code"] for status, body in answers if status == 503] == ["backlog_full"]
    settings.INGEST_BACKLOG_MAX = 100
    answers = post_many(app, ingest_key, 2)
    assert sorted(status for status, _ in answers) == [202, 429]  # the 503 was not counted
    assert [body["error"]["code"] for status, body in answers if status == 429] == ["over_quota"]
    assert redis.Redis.from_url(settings.REDIS_URL).xlen(settings.INGEST_STREAM) == 3


@pytest.mark.django_db(transaction=True)
def test_the_loop_answers_503_when_redis_is_out_of_reach(ingest_key, settings):
    app = wrap(not_django)
    post_many(app, ingest_key, 1)
    real = settings.QUEUE_REDIS_URL
    settings.QUEUE_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    try:
        answers = post_many(app, ingest_key, 2)
    finally:
        settings.QUEUE_REDIS_URL = real
    assert [status for status, _ in answers] == [503, 503]
    assert {body["error"]["code"] for _, body in answers} == {"backlog_full"}


@pytest.mark.django_db(transaction=True)
def test_the_loop_reloads_the_script_after_redis_forgot_it(ingest_key):
    app = wrap(not_django)
    r = redis.Redis.from_url(settings.REDIS_URL)

    async def go():
        first = await call(app, "POST", "/api/v1/ingest", headers(ingest_key), [P.body(P.simple())])
        r.script_flush()  # as after a Redis restart, with the same client still connected
        second = await call(app, "POST", "/api/v1/ingest", headers(ingest_key), [P.body(P.simple())])
        return first[0], second[0]

    assert run(go()) == (202, 202)
    assert r.xlen(settings.INGEST_STREAM) == 2


@pytest.mark.django_db(transaction=True)
def test_key_lookups_survive_their_database_connection_being_cut(org):
    """The look-up threads hand their connection back after each look-up, and a pooled
    connection is checked before reuse: a connection PostgreSQL dropped (a restart, an
    idle timeout) costs a reconnect, not a 503 for every new key until the process restarts."""
    app = wrap(not_django)
    first, second = make_key(org, "first"), make_key(org, "second")
    status, _, out = run(call(app, "POST", "/api/v1/ingest", headers(first), [P.body(P.simple())]))
    assert status == 202, out
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        assert cursor.fetchone()[0] >= 1  # the look-up thread's connection was among them
    status, _, out = run(call(app, "POST", "/api/v1/ingest", headers(second), [P.body(P.simple())]))
    assert status == 202, out
