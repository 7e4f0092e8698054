"""Fixtures of the OTLP receiver tests: the real ingest server (uvicorn serving
ingest/asgi.py's fast path in front of Django, as production does) in a thread of the
test process, so it sees the test database and the test's private stream."""

import asyncio
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import uvicorn
from django.core.asgi import get_asgi_application
from django.db import connections

import ingest.asgi as ingest_asgi
from ingest.lookups import LookupPool
from tests.ingest.conftest import fresh_quota, make_key, private_stream  # noqa: F401 (fixtures)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Server(uvicorn.Server):
    def install_signal_handlers(self):  # a thread of the test process: its signals stay pytest's
        pass

    async def main_loop(self):
        try:
            await super().main_loop()
        finally:
            await ingest_asgi._enqueuer.aclose()
            await ingest_asgi.live_flag.watched.aclose()


@pytest.fixture
def ingest_server(transactional_db, private_stream, monkeypatch):  # noqa: F811
    """The base URL of a real ingest server on the ASGI fast path."""
    # One thread per pool, so the database connection each opens is closed afterwards.
    lookups, otlp_pool = ThreadPoolExecutor(max_workers=1), ThreadPoolExecutor(max_workers=1)
    monkeypatch.setattr(ingest_asgi, "_lookups", LookupPool(lookups))
    monkeypatch.setattr(ingest_asgi, "_otlp_pool", otlp_pool)
    port = free_port()
    config = uvicorn.Config(
        ingest_asgi.wrap(get_asgi_application()), host="127.0.0.1", port=port, log_level="warning",
        lifespan="off", access_log=False,
    )
    server = _Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the ingest server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    for pool in (lookups, otlp_pool):
        pool.submit(connections.close_all).result()
        pool.shutdown()


@pytest.fixture
def ingest_key(org):
    return make_key(org)
