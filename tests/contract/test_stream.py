"""contract.stream: an entry reads back as ingest queued it, and a worker refuses (sets
aside) an entry in a form it does not know; contract.redis_client: one client per URL."""

import threading
import time
import uuid

import pytest

from apm.consumer import Consumer
from contract import builders, queued, stream
from contract.redis_client import client


@pytest.fixture
def private_stream(settings):
    name = f"pulse:ingest:test:{uuid.uuid4().hex}"
    settings.INGEST_STREAM = name
    yield name
    client().delete(name, f"{name}:dead")


def test_an_entry_reads_back_as_it_was_queued(private_stream):
    minute = int(time.time()) // 60 * 60 - 60
    p = builders.payload(metrics=[builders.metric("checkout", [0.1, 0.2, 3.0], minute)])
    queued_entry = builders.entry(7, uuid.UUID(int=1), p)
    r = client()
    pairs = stream.encode(7, uuid.UUID(int=1), 1.5, queued_entry.body)  # as ingest's enqueue script XADDs them
    r.xadd(stream.key(), dict(zip(pairs[0::2], pairs[1::2])))
    ((entry_id, fields),) = r.xrange(stream.key())
    entry = stream.parse(entry_id, fields)
    assert entry == stream.Entry(entry_id.decode(), 7, str(uuid.UUID(int=1)), queued_entry.body, 1.5)
    payload = stream.decode_entry(entry)
    assert payload.batch_id == p["batch_id"] and [m.count for m in payload.metrics] == [3]
    # What a worker sets aside reads back the same.
    r.xadd(f"{stream.key()}:dead", entry.fields())
    ((_, dead),) = r.xrange(f"{stream.key()}:dead")
    assert stream.parse(entry_id, dead) == entry


def test_it_refuses_an_entry_of_another_form_or_with_a_field_missing():
    fields = {b"o": b"1", b"a": b"app", b"f": b"m", b"r": b"1.0", b"b": b"\x90"}
    with pytest.raises(ValueError, match="unknown entry format"):
        stream.parse(b"1-0", fields)
    with pytest.raises(KeyError):
        stream.parse(b"1-0", {b"f": b"q"})


def test_a_worker_sets_aside_an_entry_it_cannot_read(private_stream):
    r = client()
    consumer = Consumer(name="contract-test")
    r.xadd(stream.key(), {"o": 1, "a": "app", "f": "m", "r": "1.0", "b": b"\x90"})  # the retired msgpack form
    assert consumer.step(block_ms=1) == 1
    assert r.xlen(stream.key()) == 0
    ((_, dead),) = r.xrange(f"{stream.key()}:dead")
    assert b"unknown entry format" in dead[b"error"]


def test_the_queued_form_keeps_what_the_worker_needs():
    p = builders.payload(traces=[builders.trace("checkout", time.time() - 5, 0.3)], inst=builders.instance(time.time()))
    body = builders.entry(1, "app", p).body
    payload = queued.unpack(body)
    assert payload.traces[0].span_count == 3 and payload.instance.dropped["events"] == 0


def test_one_client_per_url_shared_by_every_thread(settings):
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(client())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(c is client() for c in seen)
    assert client("redis://127.0.0.1:6379/15") is not client()
    assert client(timeout=1.0) is not client()
