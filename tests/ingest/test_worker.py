"""End to end with a real Celery worker process on the test database: exact counts, and
exactly-once when the worker dies between its commit and its ack."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

from apm.models import ProcessedBatch
from tenants.models import App
from tests.ingest import payloads as P

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def start_worker(stream, pool="prefork", concurrency=1, **env):
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"  # the test database
    full_env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": settings.REDIS_URL,
        "INGEST_STREAM": stream,
        "INGEST_CLAIM_IDLE_SECONDS": "1",
        "PYTHONUNBUFFERED": "1",
        **env,
    }
    cmd = [sys.executable, "-m", "celery", "-A", "pulse", "worker", "-l", "WARNING", f"--pool={pool}",
           f"--concurrency={concurrency}", "--without-heartbeat", "--without-gossip", "--without-mingle",
           "-Q", f"test-{os.getpid()}"]  # no task queue shared with anyone: only the stream consumer matters
    return subprocess.Popen(cmd, cwd=ROOT, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_for(predicate, timeout=40.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def post(client, key, p):
    r = client.post("/api/v1/ingest", P.body(p), content_type="application/json", **P.headers(key))
    assert r.status_code == 202, r.content
    return r


def test_it_applies_payloads_exactly_with_a_real_worker(client, owner_client, org, ingest_key, private_stream):
    minute = int(time.time()) // 60 * 60 - 60
    payloads = [P.payload("shop", metrics=[P.metric("checkout", [0.1 * (i + 1), 0.2], minute, errors=1)],
                          events=[P.event("checkout", minute + 1, 0.1)]) for i in range(5)]
    worker = start_worker(private_stream)
    try:
        for p in payloads:
            post(client, ingest_key, p)
        post(client, ingest_key, payloads[0])  # a retry of the same batch
        assert wait_for(lambda: ProcessedBatch.objects.for_org(org).count() == 5)
        r = redis.Redis.from_url(settings.REDIS_URL)
        assert wait_for(lambda: r.xlen(private_stream) == 0)
    finally:
        stop(worker)
    app_id = App.objects.for_org(org).get(name="shop").pk
    body = owner_client.get(f"/o/{org.slug}/api/apps/{app_id}/timeseries",
                            {"from": minute - 60, "to": minute + 120}).json()
    totals = body["totals"]
    assert totals["count"] == 10 and totals["error_count"] == 5
    assert totals["avg_ms"] == pytest.approx(sum(0.1 * (i + 1) + 0.2 for i in range(5)) / 10 * 1000)
    events = owner_client.get(f"/o/{org.slug}/api/apps/{app_id}/events", {"range": "1h"}).json()["events"]
    assert len(events) == 5


def test_it_counts_once_when_the_worker_dies_between_commit_and_ack(client, owner_client, org, ingest_key,
                                                                     private_stream):
    minute = int(time.time()) // 60 * 60 - 60
    p = P.payload("shop", metrics=[P.metric("checkout", [0.1, 0.3, 0.5], minute)])
    crashing = start_worker(private_stream, pool="solo", PULSE_INGEST_CRASH_AFTER_COMMIT="1")
    try:
        post(client, ingest_key, p)
        crashing.wait(timeout=40)
        assert crashing.returncode == 17  # died right after its commit, before XACK
    finally:
        stop(crashing)
    r = redis.Redis.from_url(settings.REDIS_URL)
    assert ProcessedBatch.objects.for_org(org).count() == 1  # committed ...
    assert r.xpending(private_stream, "rollup")["pending"] == 1  # ... but never acked
    assert r.hexists(f"{private_stream}:backlog", org.pk)  # so still counted against its share
    healthy = start_worker(private_stream)
    try:
        # The new worker claims the idle entry, finds it in the ledger, and acks it.
        assert wait_for(lambda: r.xpending(private_stream, "rollup")["pending"] == 0 and r.xlen(private_stream) == 0)
    finally:
        stop(healthy)
    assert r.hlen(f"{private_stream}:backlog") == 0  # taken off with the ack
    app = App.objects.for_org(org).get(name="shop")
    totals = owner_client.get(f"/o/{org.slug}/api/apps/{app.pk}/timeseries",
                              {"from": minute - 60, "to": minute + 120}).json()["totals"]
    assert totals["count"] == 3
    assert totals["avg_ms"] == pytest.approx(300.0)


def test_two_consumers_on_the_same_rows_lose_nothing(client, org, ingest_key, private_stream):
    from apm.models import AppMinute, TransactionMinute
    from apm.sketches import decode

    minute = int(time.time()) // 60 * 60 - 60
    # Two worker processes, small batches: they update the same rows concurrently.
    worker = start_worker(private_stream, concurrency=2, INGEST_BATCH_MAX="3")
    try:
        for i in range(40):
            post(client, ingest_key, P.payload("shop", metrics=[
                P.metric("checkout", [0.01 * (i % 7 + 1)] * 3, minute),
                P.metric("home", [0.2], minute),
            ]))
        assert wait_for(lambda: ProcessedBatch.objects.for_org(org).count() == 40, timeout=60)
    finally:
        stop(worker)
    rows = list(TransactionMinute.objects.for_org(org))
    assert sorted(r.count for r in rows) == [40, 120]
    for r in rows:
        assert decode(bytes(r.sketch)).count == r.count  # no sketch merge lost
    total = AppMinute.objects.for_org(org).get()
    assert total.count == 160 and decode(bytes(total.sketch)).count == 160


def test_a_small_read_lingers_once_for_more_entries(private_stream):
    import threading

    from apm.consumer import Consumer
    from contract.stream import parse
    from ingest.handoff import enqueue

    def bodies(entries):
        return [parse(entry_id, fields).body for entry_id, fields in entries]

    app_id = "00000000-0000-0000-0000-000000000001"
    consumer = Consumer(name="linger-test", linger_ms=400)
    enqueue(1, app_id, b"first")
    late = threading.Timer(0.1, enqueue, (1, app_id, b"second"))
    late.start()
    entries = consumer.read(block_ms=1)
    late.join()
    assert bodies(entries) == [b"first", b"second"]
    # Without a linger, a read takes what is there.
    enqueue(1, app_id, b"third")
    eager = Consumer(name="eager-test", linger_ms=0)
    late = threading.Timer(0.1, enqueue, (1, app_id, b"fourth"))
    late.start()
    assert bodies(eager.read(block_ms=1)) == [b"third"]
    late.join()
