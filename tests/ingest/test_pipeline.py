"""Ingest → stream → consumer → Postgres, in process (real Redis and Postgres)."""

import time

import pytest

from apm.models import AppMinute, Event, ProcessedBatch, Transaction, TransactionMinute
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
    assert Event.objects.for_org(org).filter(app=app).count() == 2
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
    assert Event.objects.for_org(org).count() == 5
