"""Ingest → stream → consumer → Postgres, in process (real Redis and Postgres)."""

import time

import pytest
from django.db import connection

from apm.models import AppMinute, EventBatch, InstanceMinute, ProcessedBatch, Transaction, TransactionMinute
from tenants.models import App
from tests.ingest import payloads as P
from tests.ingest.conftest import drain


def post(client, key, p, **extra):
    return client.post(
        "/api/v1/ingest", P.body(p), content_type="application/json", **P.headers(key), **extra
    )


@pytest.mark.django_db
def test_it_accepts_a_payload_and_rolls_it_up(client, org, ingest_key, consumer):
    minute = int(time.time()) // 60 * 60 - 60
    d1 = [0.1, 0.2, 0.3, 2.5]
    d2 = [0.05, 0.07]
    p = P.payload(
        "shop",
        metrics=[P.metric("checkout", d1, minute, errors=1), P.metric("home", d2, minute)],
        events=[P.event("checkout", minute + 5, 0.1), P.event("home", minute + 6, 0.05)],
    )
    r = post(client, ingest_key, p)
    assert r.status_code == 202, r.content
    assert r.json() == {"batch_id": p["batch_id"], "apdex_t": 0.5}
    assert drain(consumer) == 1

    app = App.objects.for_org(org).get(name="shop")
    checkout = Transaction.objects.for_org(org).get(app=app, name="checkout")
    row = TransactionMinute.objects.for_org(org).get(transaction=checkout)
    assert (row.count, row.errors) == (4, 1)
    assert row.sum == pytest.approx(sum(d1))
    assert (row.min, row.max) == (0.1, 2.5)
    assert (row.apdex_s, row.apdex_t, row.apdex_f) == (2, 0, 2)
    total = AppMinute.objects.for_org(org).get(app=app, txn_type="web")
    assert total.count == 6 and total.errors == 1
    assert EventBatch.events_in(EventBatch.objects.for_org(org).filter(app=app)) == 2
    assert ProcessedBatch.objects.for_org(org).count() == 1


@pytest.mark.django_db
def test_it_counts_the_same_payload_once(client, org, ingest_key, consumer):
    p = P.simple()
    assert post(client, ingest_key, p).status_code == 202
    assert post(client, ingest_key, p).status_code == 202
    drain(consumer)
    assert post(client, ingest_key, p).status_code == 202
    drain(consumer)
    assert TransactionMinute.objects.for_org(org).get().count == 10
    assert EventBatch.events_in(EventBatch.objects.for_org(org)) == 5


@pytest.mark.django_db
def test_it_forgets_dead_consumers_but_not_their_pending_entries(client, org, ingest_key, consumer, private_stream):
    import redis
    from django.conf import settings

    from apm import consumer as consumer_module
    from apm.consumer import Consumer

    r = redis.Redis.from_url(settings.REDIS_URL)
    assert post(client, ingest_key, P.simple()).status_code == 202
    dead = Consumer(name="dead-with-work")
    dead.read(block_ms=1)  # takes the entry and "dies" without acking
    r.xgroup_createconsumer(private_stream, "rollup", "dead-idle")
    old = consumer_module._FORGET_IDLE_MS
    consumer_module._FORGET_IDLE_MS = -1
    try:
        consumer.forget_dead_consumers()
    finally:
        consumer_module._FORGET_IDLE_MS = old
    names = {c["name"].decode() for c in r.xinfo_consumers(private_stream, "rollup")}
    assert "dead-idle" not in names and "dead-with-work" in names


@pytest.mark.django_db
def test_it_sets_aside_an_entry_it_cannot_apply_and_applies_the_rest(client, org, ingest_key, consumer,
                                                                     private_stream):
    import redis
    from django.conf import settings

    assert post(client, ingest_key, P.simple(app="gone")).status_code == 202
    assert post(client, ingest_key, P.simple(app="kept", seed=2)).status_code == 202
    App.objects.for_org(org).get(name="gone").delete()  # deleted while its payload waits in the queue
    with connection.cursor() as cur:
        # Check foreign keys now, as the commit would outside this test's transaction.
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
    drain(consumer)
    r = redis.Redis.from_url(settings.REDIS_URL)
    assert r.xlen(f"{private_stream}:dead") == 1
    assert r.xlen(private_stream) == 0
    kept = App.objects.for_org(org).get(name="kept")
    assert TransactionMinute.objects.for_org(org).get(app=kept).count == 10


@pytest.mark.django_db
def test_it_applies_a_payload_with_only_an_instance_sample(client, org, ingest_key, consumer):
    # An idle process still reports its CPU and memory; nothing else is in the payload.
    p = P.payload("shop", inst=P.instance(time.time(), cpu=7.5, memory=123_000_000))
    assert post(client, ingest_key, p).status_code == 202
    assert drain(consumer) == 1
    assert ProcessedBatch.objects.for_org(org).count() == 1
    assert not TransactionMinute.objects.for_org(org).exists()
    sample = InstanceMinute.objects.for_org(org).get()
    assert (sample.host, sample.memory_bytes) == ("web-1", 123_000_000)


@pytest.mark.django_db
def test_it_reads_back_the_events_of_a_window_as_stored_per_payload(client, org, ingest_key, consumer):
    from apm import queries

    minute = int(time.time()) // 60 * 60 - 120
    first = P.payload(
        "shop",
        events=[
            P.event("checkout", minute + 1.25, 0.5, status=None),
            P.event("home", minute + 2.5, 0.125, error=True, status=500),
            P.event("sync", minute + 70, 2.0, type="background"),
        ],
    )
    second = P.payload("shop", events=[P.event("checkout", minute + 30, 0.25)])
    for p in (first, second):
        assert post(client, ingest_key, p).status_code == 202
    assert drain(consumer) == 2
    app = App.objects.for_org(org).get(name="shop")
    assert EventBatch.events_in(EventBatch.objects.for_org(org).filter(app=app)) == 4
    assert EventBatch.objects.for_org(org).filter(app=app).count() == 2

    out = queries.events(org, app, minute, minute + 120)
    assert out["truncated"] is False
    assert [(e["t"], e["name"], e["type"], e["status"], e["error"]) for e in out["events"]] == [
        (minute + 70, "sync", "background", 200, False),
        (minute + 30, "checkout", "web", 200, False),
        (minute + 2.5, "home", "web", 500, True),
        (minute + 1.25, "checkout", "web", None, False),
    ]
    home = out["events"][2]
    assert home["duration_ms"] == 125.0 and home["trace_id"] == first["events"][1]["trace_id"]
    assert home["has_trace"] is False
    assert home["transaction_id"] == Transaction.objects.for_org(org).get(app=app, name="home").pk
    # The window is [from, to): it cuts inside a payload's events.
    inner = queries.events(org, app, minute + 2.5, minute + 70)["events"]
    assert [e["t"] for e in inner] == [minute + 30, minute + 2.5]
    checkout = Transaction.objects.for_org(org).get(app=app, name="checkout").pk
    assert [e["t"] for e in queries.events(org, app, minute, minute + 120, transaction=checkout)["events"]] == [
        minute + 30, minute + 1.25,
    ]
    assert [e["name"] for e in queries.events(org, app, minute, minute + 120, txn_type="background")["events"]] == [
        "sync"
    ]
    capped = queries.events(org, app, minute, minute + 120, limit=3)
    assert capped["truncated"] is True and [e["t"] for e in capped["events"]] == [minute + 70, minute + 30, minute + 2.5]
    assert queries.events(org, app, minute + 71, minute + 120)["events"] == []


@pytest.mark.django_db
def test_it_splits_a_payload_whose_events_lie_far_apart_and_still_finds_them(client, org, ingest_key, consumer):
    from apm import queries
    from apm.models import EVENT_BATCH_SPAN

    now = int(time.time())
    old, new = now - EVENT_BATCH_SPAN - 3600, now - 30
    p = P.payload("shop", events=[P.event("home", new, 0.2), P.event("home", old, 0.1), P.event("home", old + 1, 0.1)])
    assert post(client, ingest_key, p).status_code == 202
    assert drain(consumer) == 1
    app = App.objects.for_org(org).get(name="shop")
    batches = EventBatch.objects.for_org(org).filter(app=app)
    assert sorted(len(b.end_times) for b in batches) == [1, 2]
    assert all((b.end_max - b.end_min).total_seconds() <= EVENT_BATCH_SPAN for b in batches)
    assert [e["t"] for e in queries.events(org, app, old, old + 60)["events"]] == [old + 1, old]
    assert [e["t"] for e in queries.events(org, app, old, now)["events"]] == [new, old + 1, old]


@pytest.mark.django_db
def test_an_error_group_keeps_its_newest_samples_storing_a_few_per_batch(client, org, ingest_key, consumer, settings):
    from apm.models import ErrorGroup, ErrorSample

    settings.ERROR_SAMPLES_PER_GROUP = 4
    settings.ERROR_SAMPLES_PER_BATCH = 2
    now = time.time()
    times = []
    for batch in range(3):
        # One payload a batch, five occurrences of one error (numbers in the message vary).
        whens = [now - 100 + batch * 10 + k for k in range(5)]
        times += whens
        errors = [P.error("builtins.KeyError", f"missing key {int(w)}", w) for w in whens]
        assert post(client, ingest_key, P.payload("shop", errors=errors)).status_code == 202
        assert drain(consumer) == 1
        group = ErrorGroup.objects.for_org(org).get()
        stored = sorted(s.time.timestamp() for s in ErrorSample.objects.for_org(org).filter(group=group))
        # The batch's two newest were added; past the cap, the oldest went.
        assert len(stored) == min(4, 2 * (batch + 1))
        assert stored[-2:] == pytest.approx(sorted(whens)[-2:])
    assert group.count == 15  # every occurrence is counted, sampled or not
    assert stored == pytest.approx([times[8], times[9], times[13], times[14]])
