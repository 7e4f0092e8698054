"""Every refusal of POST /api/v1/ingest is a JSON 4xx naming the field and rule, and stores nothing."""

import gzip
import time

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from apm.models import ProcessedBatch
from tenants import keys
from tenants.models import App, IngestKey
from tests.ingest import payloads as P
from tests.ingest.conftest import drain


def post(client, key, data, compress=True, content_type="application/json", **extra):
    body = data if isinstance(data, bytes) else P.body(data, compress=compress)
    headers = P.headers(key, gzip_encoded=compress) if key else {}
    headers.update(extra)
    return client.post("/api/v1/ingest", body, content_type=content_type, **headers)


def queued():
    return redis.Redis.from_url(settings.REDIS_URL).xlen(settings.INGEST_STREAM)


def assert_refused(r, status, code, field=None):
    assert r.status_code == status, r.content
    err = r.json()["error"]
    assert err["code"] == code and err["message"]
    if field is not None:
        assert err["field"] == field, err
    assert queued() == 0


@pytest.mark.django_db
def test_it_needs_a_valid_key(client, org, ingest_key):
    assert_refused(post(client, None, P.simple()), 401, "unauthorized", "Authorization")
    assert_refused(post(client, "pulse_ik_" + "x" * 40, P.simple()), 401, "unauthorized")
    assert_refused(
        client.post("/api/v1/ingest", P.body(P.simple()), content_type="application/json",
                    HTTP_AUTHORIZATION=f"Basic {ingest_key}", HTTP_CONTENT_ENCODING="gzip"),
        401, "unauthorized",
    )


@pytest.mark.django_db
def test_it_stops_accepting_a_revoked_key(client, org, ingest_key):
    assert post(client, ingest_key, P.simple()).status_code == 202
    IngestKey.objects.for_org(org).update(revoked_at=timezone.now())
    keys.clear_key_cache()  # other processes: within INGEST_KEY_CACHE_SECONDS
    r = post(client, ingest_key, P.simple())
    assert r.status_code == 401


@pytest.mark.django_db
def test_it_refuses_unsupported_media(client, ingest_key):
    assert_refused(post(client, ingest_key, P.simple(), content_type="text/plain"), 415, "unsupported_media_type",
                   "Content-Type")
    assert_refused(post(client, ingest_key, P.simple(), HTTP_CONTENT_ENCODING="br"), 415, "unsupported_media_type",
                   "Content-Encoding")


@pytest.mark.django_db
def test_it_refuses_bad_and_oversized_bodies(client, ingest_key):
    assert_refused(post(client, ingest_key, b"\x1f\x8bnot gzip"), 400, "invalid", "body")
    assert_refused(post(client, ingest_key, gzip.compress(b"{}")[:-6]), 400, "invalid", "body")
    bomb = gzip.compress(b" " * (11 << 20))  # ~11 KiB that inflates past 10 MiB
    assert len(bomb) < 100_000
    assert_refused(post(client, ingest_key, bomb), 413, "too_large", "body")
    assert_refused(post(client, ingest_key, b"x" * ((1 << 20) + 1)), 413, "too_large", "body")
    assert_refused(post(client, ingest_key, b"[1, 2"), 400, "invalid", "body")
    assert_refused(post(client, ingest_key, gzip.compress(b'{"v": NaN}')), 400, "invalid", "body")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda p: p.update(v=2), "v"),
        (lambda p: p.update(batch_id="XYZ"), "batch_id"),
        (lambda p: p.update(app=""), "app"),
        (lambda p: p.update(app="x" * 256), "app"),
        (lambda p: p.update(sent_at=time.time() - 2 * 86400), "sent_at"),
        (lambda p: p.update(sent_at=time.time() + 3600), "sent_at"),
        (lambda p: p.update(extra=1), "body"),
        (lambda p: p["metrics"][0].update(count="10"), "metrics[0].count"),
        (lambda p: p["metrics"][0].update(count=-1), "metrics[0].count"),
        (lambda p: p["metrics"][0].update(min=-0.5), "metrics[0].min"),
        (lambda p: p["metrics"][0].update(max=1e308), "metrics[0].max"),
        (lambda p: p["metrics"][0].update(errors=11), "metrics[0].errors"),
        (lambda p: p["metrics"][0].update(apdex=[1, 1, 1]), "metrics[0].apdex"),
        (lambda p: p["metrics"][0].update(minute=p["metrics"][0]["minute"] + 1), "metrics[0].minute"),
        (lambda p: p["metrics"][0].update(sketch="AQAA"), "metrics[0].sketch"),
        (lambda p: p["metrics"][0].update(sketch="!!"), "metrics[0].sketch"),
        (lambda p: p["metrics"][0].update(type="cli"), "metrics[0].type"),
        (lambda p: p["events"][1].update(duration=-1), "events[1].duration"),
        (lambda p: p["events"][1].update(trace_id="g" * 32), "events[1].trace_id"),
        (lambda p: p["events"][1].update(status=99), "events[1].status"),
        (lambda p: p["events"][2].update(end=time.time() - 90_000), "events[2].end"),
        (lambda p: p["events"][3].update(end=time.time() + 3600), "events[3].end"),
        (lambda p: p["metrics"][0].update(minute=p["metrics"][0]["minute"] - 2 * 86400), "metrics[0].minute"),
        (lambda p: p.update(events_seen=1), "events_seen"),
        (lambda p: p["events"][0].update(name="a\u0000b"), "body"),
        (lambda p: p.update(events=p["events"] * 401), "events"),
    ],
)
def test_it_names_the_field_and_rule(client, ingest_key, mutate, field):
    p = P.simple()
    mutate(p)
    assert_refused(post(client, ingest_key, p), 400, "invalid", field)


@pytest.mark.django_db
def test_it_creates_apps_on_first_data_up_to_the_limit(client, org, ingest_key, settings):
    settings.APPS_PER_ORG_LIMIT = 2
    assert post(client, ingest_key, P.simple(app="one")).status_code == 202
    assert post(client, ingest_key, P.simple(app="two")).status_code == 202
    r = post(client, ingest_key, P.simple(app="three"))
    assert r.status_code == 403 and r.json()["error"]["code"] == "app_limit"
    assert sorted(App.objects.for_org(org).values_list("name", flat=True)) == ["one", "two"]
    assert post(client, ingest_key, P.simple(app="one")).status_code == 202


@pytest.mark.django_db
def test_it_answers_429_over_quota_and_503_over_backlog(client, ingest_key, fresh_quota, settings):
    settings.INGEST_QUOTA_PER_MINUTE = 2
    settings.INGEST_BACKLOG_MAX = 1
    assert post(client, ingest_key, P.simple()).status_code == 202
    r = post(client, ingest_key, P.simple())
    assert r.status_code == 503 and int(r["Retry-After"]) >= 1
    assert r.json()["error"]["code"] == "backlog_full"
    settings.INGEST_BACKLOG_MAX = 100
    assert post(client, ingest_key, P.simple()).status_code == 202
    r = post(client, ingest_key, P.simple())
    assert r.status_code == 429 and 1 <= int(r["Retry-After"]) <= 61
    assert r.json()["error"]["code"] == "over_quota"


@pytest.mark.django_db
def test_it_keeps_each_key_in_its_organisation(client, org, outsider_org, ingest_key, outsider_key, consumer):
    theirs = App.objects.for_org(outsider_org).create(organization=outsider_org, name="shop")
    assert post(client, ingest_key, P.simple(app="shop")).status_code == 202
    drain(consumer)
    mine = App.objects.for_org(org).get(name="shop")
    assert mine.pk != theirs.pk
    assert ProcessedBatch.objects.for_org(org).count() == 1
    assert ProcessedBatch.objects.for_org(outsider_org).count() == 0
    from apm.models import TransactionMinute

    assert TransactionMinute.objects.for_org(outsider_org).count() == 0
    assert TransactionMinute.objects.for_org(org).get().app_id == mine.pk


def test_it_serves_the_json_schema(client):
    r = client.get("/api/v1/schema")
    assert r.status_code == 200
    schema = r.json()
    assert schema["$ref"].endswith("/Payload")
    defs = schema["$defs"]
    assert defs["Metric"]["properties"]["count"]["minimum"] == 1
    assert defs["Payload"]["additionalProperties"] is False
    assert "class" in defs["ErrorIn"]["properties"]


@pytest.mark.django_db
def test_it_names_the_id_that_is_not_hex(client, ingest_key):
    p = P.simple()
    t = P.trace("shop.views.checkout", time.time() - 5, 0.2, spans=3)
    t["spans"][2]["id"] = "Z" * 16
    p["traces"] = [t]
    assert_refused(post(client, ingest_key, p), 400, "invalid", "traces[0].spans[2].id")
    p["traces"] = []
    p["batch_id"] = "A" * 32
    assert_refused(post(client, ingest_key, p), 400, "invalid", "batch_id")


@pytest.mark.django_db
def test_it_answers_503_when_redis_is_out_of_reach(client, ingest_key, settings):
    post(client, ingest_key, P.simple())  # warm the key and app caches
    real = settings.QUEUE_REDIS_URL
    settings.QUEUE_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    try:
        r = post(client, ingest_key, P.simple())
    finally:
        settings.QUEUE_REDIS_URL = real
    assert r.status_code == 503 and int(r["Retry-After"]) >= 1
    assert r.json()["error"]["code"] == "backlog_full"


@pytest.mark.django_db
def test_a_key_bound_to_one_app_sends_for_that_app_only(client, org, owner):
    from tenants import actions

    shop = App.objects.for_org(org).create(organization=org, name="Shop")
    App.objects.for_org(org).create(organization=org, name="Billing")
    raw = actions.create_ingest_key(org, "shop only", owner, app=shop).raw
    assert_refused(post(client, raw, P.simple(app="Billing")), 403, "wrong_app", "app")
    r = post(client, raw, P.simple(app="Brand new"))
    assert_refused(r, 403, "wrong_app", "app")
    assert "'Shop'" in r.json()["error"]["message"]
    assert not App.objects.for_org(org).filter(name="Brand new").exists()  # nor does it create apps
    assert post(client, raw, P.simple(app="SHOP")).status_code == 202
    # An unbound key of the same organisation still creates apps on first data.
    assert post(client, actions.create_ingest_key(org, "all", owner).raw, P.simple(app="Brand new")).status_code == 202
