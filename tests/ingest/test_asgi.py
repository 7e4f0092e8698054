"""The ASGI fast path that production serves POST /api/v1/ingest through (apm/asgi.py)."""

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
from ingest.schema import MAX_COMPRESSED_BYTES
from tests.ingest import payloads as P


async def not_django(scope, receive, send):
    await send({"type": "http.response.start", "status": 299, "headers": []})
    await send({"type": "http.response.body", "body": b"django"})


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
    monkeypatch.setattr(ingest_asgi, "_pool", pool)
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
    status, hdrs, out = asyncio.run(call(app, "POST", "/api/v1/ingest", headers(ingest_key), [body[:100], body[100:]]))
    assert status == 202, out
    assert hdrs[b"content-type"] == b"application/json" and json.loads(out)["apdex_t"] == 0.5
    assert redis.Redis.from_url(settings.REDIS_URL).xlen(settings.INGEST_STREAM) == 1
    # Now key and app are cached: answered on the event loop, without the thread pool.
    monkeypatch.setattr(ingest_asgi, "_pool", None)
    status, _, out = asyncio.run(call(app, "POST", "/api/v1/ingest", headers(ingest_key), [P.body(P.simple())]))
    assert status == 202, out
    assert redis.Redis.from_url(settings.REDIS_URL).xlen(settings.INGEST_STREAM) == 2
    status, _, out = asyncio.run(call(app, "GET", "/anything", [], [b""]))
    assert (status, out) == (299, b"django")


@pytest.mark.django_db(transaction=True)
def test_it_stops_reading_an_oversized_body(ingest_key):
    chunk = b"x" * (256 * 1024)
    status, _, out = asyncio.run(call(wrap(not_django), "POST", "/api/v1/ingest", headers(ingest_key), [chunk] * 5))
    assert status == 413 and json.loads(out)["error"]["code"] == "too_large"
    assert MAX_COMPRESSED_BYTES < 5 * len(chunk)
