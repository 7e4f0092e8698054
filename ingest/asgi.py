"""ASGI fast path for POST /api/v1/ingest and the OTLP/HTTP paths (/v1/traces, /v1/metrics,
/v1/logs), mounted in front of Django in pulse/asgi.py.

Ingest is the hottest path of the service and needs none of Django's middleware
(sessions, CSRF, auth). It checks the headers and the key first and reads the body only
for a valid key, so a stranger costs no body read. The framework-free checks run on the
event loop when the key and the app are cached (about a millisecond of CPU), or in a
small, bounded thread pool when they need the database (ingest/lookups.py: a cache
miss, at most every few seconds per key and app), then the payload is queued in Redis
without blocking the loop (ingest.handoff.Enqueuer).

An OTLP request's parse and walk over its spans (ingest/otlp/) is CPU work that grows
with the request (hundreds of spans): it runs in a small thread pool of its own, so the
loop keeps reading and answering other requests meanwhile.
"""

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from django.db import OperationalError, close_old_connections

from ingest import handler, handoff, live_flag, lookups
from contract.schema import MAX_COMPRESSED_BYTES

from ingest.errors import NeedsDatabase, Refused
from ingest.otlp import receiver as otlp
from ingest.otlp.wire import SIGNALS as OTLP_SIGNALS

PATH = "/api/v1/ingest"
_lookups = lookups.LookupPool(ThreadPoolExecutor(max_workers=4, thread_name_prefix="ingest"))
_unknown_keys = lookups.UnknownKeyLimit()
_enqueuer = handoff.Enqueuer()
_otlp_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="otlp")
log = logging.getLogger("pulse.ingest")


def wrap(django_app):
    """An ASGI app answering POST /api/v1/ingest itself and passing anything else on."""

    async def app(scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "POST":
            if scope["path"] == PATH:
                await _serve(scope, receive, send)
                return
            signal = OTLP_SIGNALS.get(scope["path"])
            if signal is not None:
                await _serve_otlp(scope, receive, send, signal)
                return
        await django_app(scope, receive, send)

    return app


def _headers(scope):
    headers = {}
    for name, value in scope["headers"]:
        headers[name.decode("latin-1").lower()] = value.decode("latin-1")
    return headers


async def _serve(scope, receive, send):
    headers = _headers(scope)
    try:
        key = await _authenticate(scope, headers, handler.authenticate, handler.presented_key, handler.error_of)
        if isinstance(key, handler.Response):
            await _send(send, key)
            return
        body = await _read_body(receive, MAX_COMPRESSED_BYTES, handler.error_of)
        if body is None:
            return
        if isinstance(body, handler.Response):
            await _send(send, body)
            return
        try:
            # Steady state: key and app are cached, so the checks are pure CPU; running
            # them here avoids a thread hop and GIL ping-pong.
            result = handler.check_body(key, headers, body, inline=True)
        except NeedsDatabase:
            result = await _look_up(handler.error_of, handler.check_body, key, headers, body)
        if isinstance(result, handler.Response):
            response = result
        else:
            enqueued = await _enqueuer.enqueue(result.org_id, result.app_id, result.body)
            response = handler.finish(result, enqueued, live_flag.watched.on_loop(result.app_id))
    except Exception:
        log.exception("ingest failed")
        response = handler.error(500, "internal", "internal error; the payload was not accepted")
    await _send(send, response)


async def _serve_otlp(scope, receive, send, signal):
    headers = _headers(scope)
    media = otlp.media_of(headers)
    refuse = partial(otlp.refused, media)
    try:
        key = await _authenticate(scope, headers, otlp.authenticate, otlp.presented_key, refuse)
        if isinstance(key, handler.Response):
            await _send(send, key)
            return
        body = await _read_body(receive, otlp.MAX_BODY_BYTES, refuse)
        if body is None:
            return
        if isinstance(body, handler.Response):
            await _send(send, body)
            return
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(_otlp_pool, partial(otlp.check_body, key, headers, body, signal, True))
        except NeedsDatabase:
            result = await _look_up(refuse, otlp.check_body, key, headers, body, signal)
        if isinstance(result, handler.Response):
            response = result
        else:
            enqueued = await asyncio.gather(*(_enqueuer.enqueue(q.org_id, q.app_id, q.body) for q in result.queue))
            response = otlp.finish(result, enqueued)
    except Exception:
        log.exception("OTLP ingest failed")
        response = otlp.internal_error(media)
    await _send(send, response)


async def _authenticate(scope, headers, authenticate, presented_key, refuse):
    """``authenticate`` (handler's or the OTLP receiver's), with the look-up of a key not in
    the cache bounded per client and in total; ``refuse`` words a Refused in the protocol."""
    try:
        return authenticate(headers, inline=True)
    except NeedsDatabase:
        pass
    client, raw_key = lookups.client_of(scope, headers), presented_key(headers)
    wait = _unknown_keys.reserve(client, raw_key)
    if wait:
        return refuse(handler.unknown_keys_refusal(wait))
    result = await _look_up(refuse, authenticate, headers)
    if not isinstance(result, handler.Response):
        _unknown_keys.found(client, raw_key)
    return result


async def _look_up(refuse, check, *args):
    """``check(*args)`` where it may query the database, or a 503 when that is out of reach or busy."""
    try:
        return await _lookups.run(_with_database, check, *args)
    except (lookups.PoolFull, OperationalError):
        return refuse(handler.unavailable_refusal())


def _with_database(check, *args):
    # Hand the connection back (to the pool, or closed when broken or too old) after each
    # look-up: these threads live as long as the process and would otherwise hold one
    # connection each forever, dead after a PostgreSQL restart.
    try:
        return check(*args)
    finally:
        close_old_connections()


async def _read_body(receive, limit, refuse):
    """The body, a 413 Response once it is over ``limit`` bytes, or None if the client left."""
    chunks = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            # Stop reading: refuse without buffering the rest.
            return refuse(Refused(413, "too_large", f"body is over {limit} bytes", "body"))
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


async def _send(send, response):
    await send(
        {
            "type": "http.response.start",
            "status": response.status,
            "headers": [*response.headers, (b"content-length", str(len(response.body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": response.body})
