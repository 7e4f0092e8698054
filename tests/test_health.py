"""Readiness through a real web process: 503, naming what is down, while PostgreSQL or a
Redis role cannot be reached (each pointed at a port where nothing listens)."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[1]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def closed_port_url(scheme, path):
    return f"{scheme}://postgres@127.0.0.1:{free_port()}/{path}" if scheme == "postgres" else f"{scheme}://127.0.0.1:{free_port()}/{path}"


def ready_answer(tmp_path, **env_overrides):
    """Start uvicorn with ``env_overrides`` and return (status, body) of GET /healthz/ready."""
    db = settings.DATABASES["default"]
    env = dict(
        os.environ,
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        REDIS_URL=settings.REDIS_URL,
        DEBUG="true",
        PYTHONUNBUFFERED="1",
    )
    env.update(env_overrides)
    port = free_port()
    log = open(tmp_path / "web.log", "wb")
    web = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "pulse.asgi:application", "--host", "127.0.0.1", "--port", str(port), "--no-access-log"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}/healthz/ready"
        for _ in range(300):
            if web.poll() is not None:
                raise RuntimeError("web exited:\n" + (tmp_path / "web.log").read_text()[-3000:])
            try:
                with urllib.request.urlopen(url, timeout=60) as response:
                    return response.status, json.loads(response.read())
            except urllib.error.HTTPError as exc:
                return exc.code, json.loads(exc.read())
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("web did not start")
    finally:
        web.terminate()
        web.wait(timeout=30)
        log.close()


@pytest.fixture
def database(django_db_setup):
    """The test database exists (the web process connects to it)."""


def test_ready_when_everything_answers(database, tmp_path):
    status, body = ready_answer(tmp_path)
    assert status == 200 and body["status"] == "ok", body


def test_not_ready_while_postgresql_is_unreachable(database, tmp_path):
    status, body = ready_answer(tmp_path, DATABASE_URL=closed_port_url("postgres", "pulse"))
    assert status == 503
    assert [p.split(":")[0] for p in body["problems"]] == ["database"]


def test_not_ready_while_redis_is_unreachable(database, tmp_path):
    status, body = ready_answer(tmp_path, REDIS_URL=closed_port_url("redis", "0"))
    assert status == 503
    assert [p.split(":")[0] for p in body["problems"]] == ["redis (QUEUE_REDIS_URL)", "redis (CACHE_REDIS_URL)"]


@pytest.mark.parametrize("role, other", [("QUEUE_REDIS_URL", "CACHE_REDIS_URL"), ("CACHE_REDIS_URL", "QUEUE_REDIS_URL")])
def test_not_ready_while_one_redis_role_is_unreachable(database, tmp_path, role, other):
    status, body = ready_answer(tmp_path, **{role: closed_port_url("redis", "0"), other: settings.REDIS_URL})
    assert status == 503
    assert [p.split(":")[0] for p in body["problems"]] == [f"redis ({role})"]
