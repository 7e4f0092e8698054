"""The websocket a page opens to follow one app live (``ws/o/<org_slug>/apps/<app_id>/live/``).

The user comes from the session (AuthMiddlewareStack), the organisation and the app
from the path; membership (any role, viewers included) is checked before the socket
joins the app's group. Anyone else, signed in or not, and any app that is missing or
belongs to another organisation, gets the same refused handshake: nothing tells them
apart. A user holds at most LIVE_SOCKETS_PER_USER sockets (frontend/socket_slots.py).
While open, a socket checks again that its session is still valid (Django's auth hash,
so a new password ends it, and ``is_active``) and the membership still there. A member
refused the organisation's pages for want of a second factor is refused a socket too. The Origin must be this very site (the Host, or PUBLIC_URL), on top of
AllowedHostsOriginValidator, so another site served from an allowed host name on another
port cannot ride the session cookie.

Messages from the pipeline (apm/live.py) arrive pre-serialised and are forwarded as
they are. They go through a small bounded queue drained by one sender task: a slow
browser makes the queue drop its oldest messages (counted and reported to it as
``lag``) instead of holding memory; aggregates are totals, so the next message makes
the charts right again.
"""

import asyncio
import collections
import json
import time
import uuid
from importlib import import_module
from urllib.parse import urlparse

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.utils.crypto import constant_time_compare

from apm import live
from frontend import socket_slots
from tenants import two_factor
from tenants.access import find_membership
from tenants.sso import policy as sso_policy
from tenants.models import App, User

_RECHECK_EVERY = 60.0  # default seconds between session and membership checks (LIVE_RECHECK_SECONDS)
_RENEW_WATCH = live.WATCH_SECONDS / 3  # seconds between renewals of the app's "watched" mark
_mark_watched = sync_to_async(live.mark_watched, thread_sensitive=False)
_take_slot = sync_to_async(socket_slots.take, thread_sensitive=False)
_renew_slot = sync_to_async(socket_slots.renew, thread_sensitive=False)
_release_slot = sync_to_async(socket_slots.release, thread_sensitive=False)


def _header(scope, name):
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def same_origin(scope):
    """The page that opens the socket is served by this site: its Origin is our Host, or PUBLIC_URL
    (a proxy in front may rewrite Host)."""
    origin, host = _header(scope, b"origin"), _header(scope, b"host")
    if not origin:
        return False
    netloc = urlparse(origin).netloc.lower()
    if host and netloc == host.lower():
        return True
    public = urlparse(settings.PUBLIC_URL)
    return urlparse(origin).scheme == public.scheme and netloc == public.netloc.lower()


@database_sync_to_async
def _can_watch(user, session, org_slug, app_id):
    if user is None or not user.is_authenticated:
        return False
    membership = find_membership(user, org_slug)
    if membership is None or not sso_policy.admits(session, membership, membership.organization.sso_required):
        return False
    if membership.organization.require_two_factor and not two_factor.satisfied(user, session or {}):
        return False  # the pages send this member to enrol first; a socket is just refused
    return App.objects.for_org(membership.organization_id).filter(id=app_id).exists()


@database_sync_to_async
def _session_still_valid(session_key, user):
    """The session is still this user's, as Django's own check at each request has it: not
    logged out, the user still active, and the password (so the auth hash) unchanged since
    the login. All read afresh; the scope's copies would not know."""
    if not session_key:
        return False
    data = import_module(settings.SESSION_ENGINE).SessionStore(session_key).load()
    if str(data.get(SESSION_KEY)) != str(user.pk):
        return False
    fresh = User.objects.filter(pk=user.pk, is_active=True).first()
    return fresh is not None and constant_time_compare(data.get(HASH_SESSION_KEY) or "", fresh.get_session_auth_hash())


class LiveAppConsumer(AsyncWebsocketConsumer):
    group = None
    sender = None
    slot = False

    async def connect(self):
        kwargs = self.scope["url_route"]["kwargs"]
        self.org_slug = kwargs["org_slug"]
        self.app_id = uuid.UUID(str(kwargs["app_id"]))
        self.user = self.scope.get("user")
        if not same_origin(self.scope) or not await _can_watch(self.user, self.scope.get("session"), self.org_slug, self.app_id):
            await self.close()  # before accept: the handshake is refused (403), nothing else is said
            return
        self.slot = await _take_slot(self.user.pk, self.channel_name)
        if not self.slot:
            await self.close()  # LIVE_SOCKETS_PER_USER open already
            return
        self.queue = collections.deque(maxlen=settings.LIVE_SEND_QUEUE)
        self.lagged = 0
        self.ready = asyncio.Event()
        self.group = live.group_name(self.app_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await _mark_watched(self.app_id)  # workers publish for this app from now on
        await self.accept()
        hello = {
            "type": "hello",
            "app": str(self.app_id),
            "server_time": round(time.time(), 3),
            "events_per_second": live.events_per_second(),
        }
        await self.send(text_data=json.dumps(hello))
        self.sender = asyncio.create_task(self._send_loop())

    async def disconnect(self, code):
        if self.sender is not None:
            self.sender.cancel()
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
        if self.slot:
            await _release_slot(self.user.pk, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        pass  # the page has nothing to say; pause and resume happen in the browser

    async def live_update(self, event):
        if len(self.queue) == self.queue.maxlen:
            self.lagged += 1
        self.queue.append(event["text"])
        self.ready.set()

    async def _send_loop(self):
        every = getattr(settings, "LIVE_RECHECK_SECONDS", _RECHECK_EVERY)
        checked = marked = time.monotonic()
        while True:
            try:
                await asyncio.wait_for(self.ready.wait(), min(every, _RENEW_WATCH))
            except asyncio.TimeoutError:
                pass
            self.ready.clear()
            if time.monotonic() - marked >= _RENEW_WATCH:
                marked = time.monotonic()
                try:
                    await _mark_watched(self.app_id)
                    await _renew_slot(self.user.pk, self.channel_name)
                except Exception:
                    pass  # Redis away: workers fail open and publish anyway
            if time.monotonic() - checked >= every:
                checked = time.monotonic()
                # Removed from the organisation, signed out, deactivated or with a new password:
                # the socket closes within LIVE_RECHECK_SECONDS.
                session = self.scope.get("session")
                signed_in = await _session_still_valid(getattr(session, "session_key", None), self.user)
                if not signed_in or not await _can_watch(self.user, self.scope.get("session"), self.org_slug, self.app_id):
                    await self.close(code=4403)
                    return
            while self.queue:
                if self.lagged:
                    lag, self.lagged = self.lagged, 0
                    await self.send(text_data=json.dumps({"type": "lag", "dropped_messages": lag}))
                await self.send(text_data=self.queue.popleft())
