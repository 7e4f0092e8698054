"""The optional ``operations`` section (databases and external services): checked at ingest
with the offending field named, carried by the queued form, and absent from older agents'
payloads and older queued entries without harm."""

import time

import msgspec
import pytest
import redis
from django.conf import settings

from contract import queued, stream
from tests.ingest import payloads as P
from tests.ingest.test_validation import assert_refused, post


def _minute():
    return int(time.time()) // 60 * 60 - 60


def with_operations(*ops):
    p = P.simple(minute=_minute())
    p["operations"] = list(ops)
    return p


def op(**changes):
    o = P.operation("shop.views.checkout", [0.002, 0.004, 0.010], _minute(), table="shop_item")
    o.update(changes)
    return o


@pytest.mark.django_db
@pytest.mark.parametrize(
    "changes, field",
    [
        ({"kind": "cache"}, "operations[0].kind"),
        ({"service": ""}, "operations[0].service"),
        ({"operation": ""}, "operations[0].operation"),
        ({"operation": "X" * 65}, "operations[0].operation"),
        ({"table": "t" * 256}, "operations[0].table"),
        ({"transaction": ""}, "operations[0].transaction"),
        ({"minute": _minute() + 1}, "operations[0].minute"),
        ({"minute": _minute() - 2 * 86400}, "operations[0].minute"),
        ({"count": 0}, "operations[0].count"),
        ({"errors": 4}, "operations[0].errors"),
        ({"sum": -1.0}, "operations[0].sum"),
        ({"sum": 3 * 86400.0 + 1}, "operations[0].sum"),
        ({"count": 2}, "operations[0].sketch"),  # the sketch holds 3 values
        ({"sketch": "AAAA"}, "operations[0].sketch"),
        ({"rows": 3}, "operations[0]"),
    ],
)
def test_it_names_the_operation_field_and_rule(client, ingest_key, changes, field):
    assert_refused(post(client, ingest_key, with_operations(op(**changes))), 400, "invalid", field)


@pytest.mark.django_db
def test_it_refuses_a_repeated_operation_and_too_many(client, ingest_key):
    assert_refused(post(client, ingest_key, with_operations(op(), op())), 400, "invalid", "operations[1]")
    many = [op(table=f"t{i}") for i in range(2001)]
    assert_refused(post(client, ingest_key, with_operations(*many)), 400, "invalid", "operations")


@pytest.mark.django_db
def test_it_queues_the_operations_and_still_takes_payloads_without_them(client, ingest_key):
    ext = op(kind="external", service="api.example.com:443", operation="POST", table="", errors=1)
    assert post(client, ingest_key, with_operations(op(), ext)).status_code == 202
    assert post(client, ingest_key, P.simple(minute=_minute())).status_code == 202
    entries = redis.Redis.from_url(settings.REDIS_URL).xrange(stream.key())
    bodies = [queued.unpack(fields[b"b"]) for _, fields in entries]
    assert [len(b.operations) for b in bodies] == [2, 0]
    db, out = bodies[0].operations
    assert (db.kind, db.service, db.operation, db.table, db.count, db.errors) == (
        "database", "postgresql", "SELECT", "shop_item", 3, 0
    )
    assert (out.kind, out.service, out.operation, out.table, out.errors) == (
        "external", "api.example.com:443", "POST", "", 1
    )
    assert db.first_count + sum(db.bins.values()) + db.zero_count >= 1  # the checked sketch rides along


def test_an_entry_queued_before_the_operations_still_decodes():
    current = queued.QueuedPayload("a" * 32, 1.0, [], queued.QueuedEvents([], [], [], [], [], [], [], []), [], [], None)
    as_lists = msgspec.to_builtins(current)[:7]  # the payload as the previous release laid it out
    assert queued.unpack(msgspec.msgpack.encode(as_lists)).operations == []
