"""Fixtures for the live tests: the real platform (uvicorn + a Celery worker) on the test database."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tenants import keys
from tenants.models import IngestKey

# The browser fixtures (Debian's Chromium through Playwright, screenshots) are shared.
from tests.browser.conftest import (  # noqa: F401
    browser,
    console_errors,
    login,
    page,
    pytest_runtest_makereport,
    screenshot,
)

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def platform_env(stream):
    """The environment of the server processes: this test run's database, Redis and stream."""
    db = settings.DATABASES["default"]
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        REDIS_URL=settings.REDIS_URL,
        INGEST_STREAM=stream,
        DEBUG="true",
        INGEST_KEY_CACHE_SECONDS="0",
        PYTHONUNBUFFERED="1",
    )
    return env


class Platform:
    def __init__(self, url, processes, logs):
        self.url = url
        self.processes = processes
        self.logs = logs

    def alive(self):
        return all(p.poll() is None for p in self.processes)


def wait_http(url, process, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url + "/healthz/live", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not start")


@pytest.fixture(scope="module")
def platform(django_db_setup, tmp_path_factory):
    """uvicorn (HTTP + websockets) and one Celery worker, as `make run` starts them."""
    if connection.settings_dict["NAME"] != settings.DATABASES["default"]["NAME"]:
        pytest.fail("test database not set up")
    stream = f"pulse:ingest:live-test:{uuid.uuid4().hex}"
    env = platform_env(stream)
    port = free_port()
    logdir = tmp_path_factory.mktemp("platform")
    web_log = open(logdir / "web.log", "wb")
    worker_log = open(logdir / "worker.log", "wb")
    web = subprocess.Popen(
        [str(BIN / "uvicorn"), "pulse.asgi:application", "--host", "127.0.0.1", "--port", str(port), "--no-access-log"],
        cwd=ROOT,
        env=env,
        stdout=web_log,
        stderr=subprocess.STDOUT,
    )
    worker = subprocess.Popen(
        [str(BIN / "celery"), "-A", "pulse", "worker", "--pool=solo", "--loglevel=WARNING", "-n", f"live-{port}@%h"],
        cwd=ROOT,
        env=env,
        stdout=worker_log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url, web)
        yield Platform(url, [web, worker], logdir)
    finally:
        for p in (web, worker):
            p.terminate()
        for p in (web, worker):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        web_log.close()
        worker_log.close()
        import redis

        redis.Redis.from_url(settings.REDIS_URL).delete(stream, f"{stream}:dead")


@pytest.fixture
def ingest_key(org):
    raw = keys.generate_key()
    IngestKey.objects.for_org(org).create(
        organization=org, label="live test", prefix=raw[: keys.SHOWN_PREFIX_LENGTH], key_hash=keys.hash_key(raw)
    )
    return raw
