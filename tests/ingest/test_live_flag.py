"""The 202 reply's ``"live": true`` on the synchronous path (ingest/views.py): only for an
app with a watched mark, never for another organisation's app of the same name; the
asynchronous fast path is covered with real sockets in tests/live/test_live_mode.py."""

import time

import pytest
import redis
from django.conf import settings

from contract import live_watch
from ingest import live_flag
from tenants.models import App
from tests.ingest import payloads as P


def post(client, key, app_name):
    r = client.post("/api/v1/ingest", P.body(P.simple(app_name)), content_type="application/json", **P.headers(key))
    assert r.status_code == 202, r.content
    return r.json()


@pytest.fixture
def marks():
    r = redis.Redis.from_url(settings.CACHE_REDIS_URL)
    made = []
    yield made
    for app_id in made:
        r.delete(live_watch.key(app_id))
    live_flag.watched.forget()


@pytest.mark.django_db
def test_the_reply_says_live_only_for_a_watched_app_of_the_key_s_org(client, org, outsider_org, ingest_key, outsider_key, marks):
    assert "live" not in post(client, ingest_key, "shop")  # creates the app
    assert "live" not in post(client, outsider_key, "shop")
    theirs = App.objects.for_org(outsider_org).get(name="shop")
    marks.append(theirs.id)
    live_watch.mark(theirs.id)
    live_flag.watched.forget()
    assert post(client, outsider_key, "shop")["live"] is True
    assert "live" not in post(client, ingest_key, "shop")

    ours = App.objects.for_org(org).get(name="shop")
    marks.append(ours.id)
    live_watch.mark(ours.id)
    assert "live" not in post(client, ingest_key, "shop")  # the process's copy is under a second old
    time.sleep(live_flag.RECHECK_SECONDS)
    assert post(client, ingest_key, "shop")["live"] is True


@pytest.mark.django_db
def test_the_reply_leaves_live_out_when_redis_cannot_say(client, org, ingest_key, marks, settings):
    settings.CACHE_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    assert "live" not in post(client, ingest_key, "shop")
