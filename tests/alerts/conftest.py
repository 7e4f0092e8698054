"""Fixtures for the alerting tests: telemetry through the real ingest path, a local
webhook receiver, and a real Celery worker process against the test database."""

import http.server
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timezone as dt_timezone
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

from alerts.models import ChannelKind, Condition, Metric, Mode, NotificationChannel
from tests.ingest import payloads as P

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _fast_and_private(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # The webhook receiver of these tests listens on loopback, on a port of its own.
    settings.ALERTS_ALLOW_PRIVATE_WEBHOOKS = True
    settings.ALERTS_WEBHOOK_PORTS = None
    settings.ALERTS_EVALUATION_DELAY = 0


def wait_for(check, timeout=30.0, interval=0.1, message="condition"):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        time.sleep(interval)


def minute_floor(t=None):
    t = t or datetime.now(dt_timezone.utc)
    return t.replace(second=0, microsecond=0)


# --- telemetry ------------------------------------------------------------------


def durations_with_p95(p95_seconds, n=40, base=0.05):
    """n durations whose 95th percentile is about ``p95_seconds`` (the top 10 % at that value)."""
    slow = max(1, n // 10)
    return [base] * (n - slow) + [p95_seconds] * slow


def telemetry(app_name, minute, durations, name="shop.views.checkout", errors=0, inst=None):
    """A protocol v1 payload for one minute (aware datetime) of one transaction."""
    ts = int(minute.timestamp())
    metrics = [P.metric(name, durations, ts, errors=errors)] if durations else []
    return P.payload(app_name, metrics=metrics, inst=inst)


def post_payload(client, key, payload):
    response = client.post("/api/v1/ingest", P.body(payload), content_type="application/json", **P.headers(key))
    assert response.status_code == 202, response.content
    return response


def make_condition(org, app, channels=(), **overrides):
    fields = dict(
        organization=org,
        app=app,
        name="Checkout is slow",
        metric=Metric.P95,
        warning_threshold=300.0,
        critical_threshold=1000.0,
        window_minutes=3,
        mode=Mode.SUSTAINED,
    )
    fields.update(overrides)
    condition = Condition.objects.for_org(org).create(**fields)
    condition.warning_channels.set(channels)
    condition.critical_channels.set(channels)
    return condition


def make_webhook(org, url, name="Ops webhook"):
    return NotificationChannel.objects.for_org(org).create(
        organization=org, name=name, kind=ChannelKind.WEBHOOK, config={"url": url}
    )


# --- a local webhook receiver -------------------------------------------------------


class Receiver:
    def __init__(self):
        self.requests = queue.Queue()
        self.status = 200
        self.reply = b"ok"
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.put({"path": self.path, "headers": dict(self.headers), "body": body, "at": time.time()})
                self.send_response(receiver.status)
                self.end_headers()
                self.wfile.write(receiver.reply)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def get(self, timeout=30.0):
        return self.requests.get(timeout=timeout)

    def drain(self):
        out = []
        while True:
            try:
                out.append(self.requests.get_nowait())
            except queue.Empty:
                return out

    def json(self, request):
        return json.loads(request["body"])

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


# --- a real Celery worker ------------------------------------------------------------


class Worker:
    def __init__(self, proc, stream):
        self.proc = proc
        self.stream = stream


@pytest.fixture(scope="module")
def celery_worker(django_db_setup, django_db_blocker):
    """``celery -A pulse worker`` in a subprocess, on the test database and our Redis db.

    Its ingest consumer thread applies what the tests post to /api/v1/ingest (on a stream
    of its own: see ``worker_stream``); it runs the alert tasks the tests queue.
    Module-scoped: starting one takes seconds, and no other module's worker runs meanwhile.
    """
    with django_db_blocker.unblock():
        db_name = connection.settings_dict["NAME"]
    base = settings.DATABASE_URL.rsplit("/", 1)[0]
    stream = f"pulse:ingest:alerts-e2e:{uuid.uuid4().hex}"
    r = redis.Redis.from_url(settings.REDIS_URL)
    r.delete("celery", settings.ALERTS_DELIVERY_QUEUE)
    env = dict(
        os.environ,
        DATABASE_URL=f"{base}/{db_name}",
        REDIS_URL=settings.REDIS_URL,
        ALERTS_ALLOW_PRIVATE_WEBHOOKS="true",
        ALERTS_WEBHOOK_PORTS="*",
        ALERTS_EVALUATION_DELAY="0",
        INGEST_CLAIM_IDLE_SECONDS="2",
        INGEST_STREAM=stream,
    )
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"pulse-alerts-worker-{uuid.uuid4().hex[:8]}.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "pulse", "worker", "--pool=solo", "--loglevel=INFO", "-Q", "celery,alerts.delivery",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"alerts-test-{uuid.uuid4().hex[:6]}@%h"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for(lambda: b"ready." in log_path.read_bytes() or proc.poll() is not None, timeout=60, message="worker start")
        if proc.poll() is not None:
            raise RuntimeError("the Celery worker exited:\n" + log_path.read_text()[-3000:])
        yield Worker(proc, stream)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
        r.delete(stream, f"{stream}:dead")


@pytest.fixture
def worker_stream(settings, celery_worker):
    """Payloads posted by the test go to the worker's own stream."""
    from ingest.app_resolver import clear_app_cache
    from tenants import keys

    settings.INGEST_STREAM = celery_worker.stream
    keys.clear_key_cache()
    clear_app_cache()
    return celery_worker.stream


# --- in-process rollups through the real ingest path ---------------------------------


class Rollups:
    """Posts payloads to /api/v1/ingest and applies them with the pipeline's consumer."""

    def __init__(self, client, org):
        from apm.consumer import Consumer
        from tests.ingest.conftest import make_key

        self.client = client
        self.key = make_key(org)
        self.consumer = Consumer(name="alerts-test-consumer")

    def minutes(self, app, minutes, p95=None, durations=None, errors=0, name="shop.views.checkout", inst=None):
        for minute in minutes:
            d = durations if durations is not None else durations_with_p95(p95)
            post_payload(self.client, self.key, telemetry(app.name, minute, d, name=name, errors=errors, inst=inst))
        self.drain()

    def drain(self):
        while self.consumer.step(block_ms=1):
            pass


@pytest.fixture
def rollups(settings, client, org):
    from ingest.app_resolver import clear_app_cache
    from tenants import keys

    name = f"pulse:ingest:alerts-test:{uuid.uuid4().hex}"
    settings.INGEST_STREAM = name
    keys.clear_key_cache()
    clear_app_cache()
    yield Rollups(client, org)
    redis.Redis.from_url(settings.REDIS_URL).delete(name, f"{name}:dead")
    keys.clear_key_cache()
    clear_app_cache()
