"""Workers publish live updates only for apps that someone has open (apm/live.py "Who is watching")."""

import asyncio
import time
import uuid

import pytest
import redis
from channels.layers import get_channel_layer
from django.conf import settings

from apm import live
from tests.live.threads import run_async

pytestmark = pytest.mark.django_db(transaction=True)


def _event():
    return {"t": time.time(), "transaction_id": None, "name": "GET /", "type": "web", "duration_ms": 5.0,
            "status": 200, "error": False, "trace_id": uuid.uuid4().hex, "has_trace": False}


@pytest.fixture(autouse=True)
def unwatched(app):
    r = redis.Redis.from_url(settings.REDIS_URL)
    r.delete(f"pulse:live:watched:{app.id.hex}", f"pulse:live:bucket:{app.id.hex}")
    live._watch_cache.clear()
    yield
    r.delete(f"pulse:live:watched:{app.id.hex}")


def _deliveries(org, app, mark_first, mark=live.mark_watched, wait=1.0):
    """Messages a member of the app's group gets for one published batch."""

    async def scenario():
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(live.group_name(app.id), channel)
        if mark_first:
            await asyncio.to_thread(mark, app.id)
        live.publish_batch(org.id, app.id, [], [_event()])
        assert await asyncio.to_thread(live.flush, 5)
        got = []
        try:
            got.append(await asyncio.wait_for(layer.receive(channel), wait))
        except asyncio.TimeoutError:
            pass
        await layer.group_discard(live.group_name(app.id), channel)
        return got

    return run_async(scenario)


def test_nothing_is_published_for_an_app_nobody_watches(org, app):
    assert not live.is_watched(app.id)
    assert _deliveries(org, app, mark_first=False) == []


def test_an_open_socket_marks_the_app_and_updates_flow(org, app):
    got = _deliveries(org, app, mark_first=True)
    assert len(got) == 1 and got[0]["type"] == "live.update"
    assert live.is_watched(app.id)


def test_the_mark_expires_when_no_socket_renews_it(org, app):
    live.mark_watched(app.id)
    ttl = redis.Redis.from_url(settings.REDIS_URL).ttl(f"pulse:live:watched:{app.id.hex}")
    assert 0 < ttl <= live.WATCH_SECONDS


def test_it_publishes_when_redis_cannot_say(org, app, settings):
    settings.CACHE_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    assert live.is_watched(app.id)


def test_a_viewer_gets_the_very_next_batch_after_opening(org, app):
    # A worker that just found the app unwatched must not keep that answer: a page opened
    # now (its socket served by another process, which marks the app in Redis) would
    # miss the next batch.
    def mark_elsewhere(app_id):
        redis.Redis.from_url(settings.REDIS_URL).set(f"pulse:live:watched:{app_id.hex}", b"1", ex=30)

    assert _deliveries(org, app, mark_first=False, wait=0.1) == []
    assert len(_deliveries(org, app, mark_first=True, mark=mark_elsewhere)) == 1
