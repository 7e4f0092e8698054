"""Live mode end to end: the 202 reply says ``"live": true`` only while a socket watches the
app, and an agent told so draws its requests on the live page (ingest/live_flag.py,
pulse_agent/agent.py). Real uvicorn, a real Celery worker, Redis, Postgres, Chromium and
the real agent in a subprocess; no timing is asserted."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.test import Client
from websockets.sync.client import connect

from apm.models import EventBatch
from contract import live_watch
from tenants.models import App
from tests.conftest import PASSWORD
from tests.live.poster import answer, payload
from tests.live.test_browser import DOTS, applied_count, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
AGENT_APPS = ROOT / "tests" / "agent" / "apps"


def says_live(platform, key, app):
    status, reply = answer(platform.url, key, payload(app.name, [0.01]))
    assert status == 202, reply
    return reply.get("live") is True


def live_within(platform, key, app, seconds, want):
    """Whether a reply says ``live`` == ``want`` within ``seconds`` of posting every 0.2 s
    (the server's copy of the marks may be a second old)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if says_live(platform, key, app) == want:
            return True
        time.sleep(0.2)
    return False


def open_socket(platform, user, org_slug, app_id):
    client = Client()
    client.force_login(user)
    return connect(
        f"ws://{platform.url.removeprefix('http://')}/ws/o/{org_slug}/apps/{app_id}/live/",
        origin=platform.url,
        additional_headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"},
        open_timeout=20,
    )


@pytest.fixture
def unmarked(app):
    r = redis.Redis.from_url(settings.CACHE_REDIS_URL)
    r.delete(live_watch.key(app.id))
    yield r
    r.delete(live_watch.key(app.id))


def test_the_reply_says_live_only_while_a_member_watches_the_app(
    platform, unmarked, member, org, app, outsider, outsider_org, ingest_key
):
    their_app = App.objects.for_org(outsider_org).create(organization=outsider_org, name=app.name)
    with open_socket(platform, outsider, outsider_org.slug, their_app.id):
        # Another organisation watching its own app of the same name does not count.
        assert not live_within(platform, ingest_key, app, 2.5, want=True)
    unmarked.delete(live_watch.key(their_app.id))

    with open_socket(platform, member, org.slug, app.id) as socket:
        assert '"hello"' in socket.recv(timeout=10)
        assert live_within(platform, ingest_key, app, 10, want=True)
    # The mark lapses WATCH_SECONDS after the last socket renewed it; lapse it now.
    unmarked.delete(live_watch.key(app.id))
    assert live_within(platform, ingest_key, app, 10, want=False)


@pytest.mark.browser
@pytest.mark.slow
def test_an_agent_told_live_draws_its_requests_on_the_live_page(
    platform, unmarked, page, login, viewer, org, app, ingest_key, console_errors
):
    login(page, platform.url, viewer.email, PASSWORD)
    page.goto(f"{platform.url}/o/{org.slug}/apps/{app.id}/live/")
    page.wait_for_selector("[data-live-page]")
    assert page.evaluate(DOTS) == 0

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULSE_", "DJANGO_"))}
    env.update(
        PYTHONPATH=os.pathsep.join([str(ROOT / "agent"), str(AGENT_APPS)]),
        PULSE_ENDPOINT=platform.url,
        PULSE_INGEST_KEY=ingest_key,
        PULSE_APP_NAME=app.name,
        PULSE_HARVEST_INTERVAL="2.0",
    )
    seconds = 8
    run = subprocess.run(
        [sys.executable, "-m", "pulse_agent.cli", "run", "--", sys.executable,
         str(AGENT_APPS / "loop_driver.py"), "--seconds", str(seconds), "--sleep", "0.05"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 0, run.stderr
    requests = int(run.stdout.strip().splitlines()[-1].split('"requests": ')[1].split(",")[0])

    page.wait_for_function(f"() => ({DOTS})() > 0")
    wait_for(lambda: applied_count(org, app) == requests, "every request to be counted once")
    # One event row per payload: the harvests (one per 2 s, plus the last at exit) and,
    # once the first reply said live, an events-only payload about every half second.
    assert EventBatch.objects.for_org(org).filter(app=app).count() > seconds / 2 + 2
    assert console_errors == []
