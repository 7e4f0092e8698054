"""A viewer that stops reading does not make the server hold everything for it.

Real uvicorn (its websocket flow control), Redis channel layer, and a websockets client
that stops reading: the consumer's bounded send queue drops what does not fit and tells
the viewer how much it missed once it reads again.
"""

import asyncio
import json
import socket
import time
from urllib.parse import urlparse

import pytest
import websockets
from django.conf import settings
from django.test import Client

from apm import live
from tests.live.threads import run_async

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PUBLISHED = 300
EVENTS_PER_MESSAGE = 1000  # about 100 KB a message


def _event(i):
    return {"t": time.time(), "transaction_id": 1, "name": f"GET /slow/{i}", "type": "web", "duration_ms": 12.5 + i,
            "status": 200, "error": False, "trace_id": "ab" * 16, "has_trace": True}


def test_it_drops_for_a_viewer_that_does_not_read_and_says_so(platform, member, org, app, settings_override):
    client = Client()
    client.force_login(member)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    url = platform.url.replace("http://", "ws://") + f"/ws/o/{org.slug}/apps/{app.id}/live/"
    events = [_event(i) for i in range(EVENTS_PER_MESSAGE)]

    async def scenario():
        # max_queue=1: the client stops reading from the socket as soon as one message waits; a
        # fixed small receive buffer keeps the kernel from absorbing megabytes on its behalf.
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.connect((urlparse(platform.url).hostname, urlparse(platform.url).port))
        sock.setblocking(False)
        async with websockets.connect(
            url, sock=sock, origin=platform.url, additional_headers={"Cookie": cookie}, max_queue=1, max_size=2**24,
            compression=None,  # deflated ~50x, all of it would fit in the kernel's socket buffers
        ) as ws:
            assert json.loads(await ws.recv())["type"] == "hello"
            rss_before = _rss(platform.processes[0].pid)
            for _ in range(PUBLISHED):
                live.publish_batch(org.id, str(app.id), [], events)
                await asyncio.to_thread(live.flush, 10)
            await asyncio.sleep(1)
            grown = _rss(platform.processes[0].pid) - rss_before
            updates, lagged = 0, 0
            while True:
                try:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), 3))
                except asyncio.TimeoutError:
                    break
                if msg["type"] == "update":
                    updates += 1
                elif msg["type"] == "lag":
                    lagged += msg["dropped_messages"]
            return updates, lagged, grown

    updates, lagged, grown = run_async(scenario)
    assert lagged > 0  # the viewer is told what it missed
    assert updates < PUBLISHED
    assert updates + lagged <= PUBLISHED
    # What it could not take was dropped, not kept: far less than the 24 MB published.
    assert grown < 8 * 2**20


def _rss(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))


@pytest.fixture
def settings_override(settings):
    # This process publishes: big messages (no token-bucket cut) and one message per flush.
    settings.LIVE_EVENTS_PER_SECOND = 10_000_000
    settings.LIVE_EVENTS_BURST = EVENTS_PER_MESSAGE
    settings.LIVE_FLUSH_INTERVAL = 0
    return settings
