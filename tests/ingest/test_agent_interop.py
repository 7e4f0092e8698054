"""The real agent (agent/pulse_agent) against the real server (uvicorn, the ASGI fast path):
both sides agree on protocol v1, and what the agent measured is what the rollups hold."""

import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

from apm.models import ErrorGroup, TransactionMinute
from contract import queued
from tenants.models import App
from tests.ingest.conftest import drain

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

AGENT_SCRIPT = textwrap.dedent(
    """
    import io, sqlite3, sys
    import pulse_agent
    from pulse_agent import WSGIMiddleware

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/boom":
            raise ValueError("bad order id 42")
        db.execute("SELECT id FROM orders WHERE id = 'secret'").fetchall()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    pulse_agent.init()
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE orders (id INTEGER)")
    wrapped = WSGIMiddleware(app)
    for n in range(25):
        path = "/boom" if n % 5 == 0 else "/orders/%d" % n
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "t",
                   "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.input": io.BytesIO(b""),
                   "wsgi.errors": sys.stderr, "wsgi.url_scheme": "http", "HTTP_HOST": "t"}
        try:
            body = wrapped(environ, lambda *a, **k: None)
            list(body)
            getattr(body, "close", lambda: None)()
        except ValueError:
            pass
    pulse_agent.shutdown(timeout=10)
    """
)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_it_accepts_what_the_real_agent_sends(org, ingest_key, consumer, private_stream):
    db = connection.settings_dict
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "INGEST_STREAM": private_stream,
        "DEBUG": "false",
        "SECRET_KEY": "interop-test-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        "ALLOWED_HOSTS": "127.0.0.1",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "pulse.asgi:application", "--port", str(port), "--no-access-log"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        agent_env = {k: v for k, v in os.environ.items() if not k.startswith(("PULSE_", "DJANGO_"))}
        agent_env.update(
            PULSE_INGEST_KEY=ingest_key,
            PULSE_ENDPOINT=f"http://127.0.0.1:{port}",
            PULSE_APP_NAME="interop",
            PULSE_HARVEST_INTERVAL="0.3",
            PULSE_LOG_LEVEL="info",
            PYTHONPATH=str(ROOT / "agent"),
        )
        run = subprocess.run([sys.executable, "-c", AGENT_SCRIPT], env=agent_env, capture_output=True, text=True,
                             timeout=60)
        assert run.returncode == 0, run.stderr
        assert "rejected" not in run.stderr, run.stderr
    finally:
        server.terminate()
        server.wait(timeout=15)
    r = redis.Redis.from_url(settings.REDIS_URL)
    assert r.xlen(private_stream) >= 1
    # every request's statement, aggregated by the agent and queued by ingest
    queued_ops = [o for _, f in r.xrange(private_stream) for o in queued.unpack(f[b"b"]).operations]
    selects = [o for o in queued_ops if (o.kind, o.service, o.operation, o.table) == ("database", "sqlite", "SELECT", "orders")]
    assert sum(o.count for o in selects) == 20 and {o.transaction for o in selects} == {"GET /orders/{id}"}
    assert "secret" not in repr(queued_ops)
    drain(consumer)
    assert r.xlen(f"{private_stream}:dead") == 0
    app = App.objects.for_org(org).get(name="interop")
    rows = TransactionMinute.objects.for_org(org).filter(app=app)
    assert sum(row.count for row in rows) == 25
    assert sum(row.errors for row in rows) == 5
    assert ErrorGroup.objects.for_org(org).filter(app=app, error_class__contains="ValueError").exists()
