"""ASGI fast path for POST /api/v1/ingest, mounted in front of Django in pulse/asgi.py.

Ingest is the hottest path of the service and needs none of Django's middleware
(sessions, CSRF, auth): this reads the body with a size cap and runs the
framework-free checks on the event loop when the key and the app are cached (about a
millisecond of CPU), or in a small thread pool when they need the database (a cache
miss, at most every few seconds per key and app), then queues it in Redis without
blocking the loop (ingest.handoff.Enqueuer).
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor

from django.db import OperationalError, close_old_connections

from ingest import handler, handoff
from contract.schema import MAX_COMPRESSED_BYTES

from ingest.errors import NeedsDatabase

PATH = "/api/v1/ingest"
_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ingest")
_enqueuer = handoff.Enqueuer()


def wrap(django_app):
    """An ASGI app answering POST /api/v1/ingest itself and passing anything else on."""

    async def app(scope, receive, send):
        if scope["type"] == "http" and scope["path"] == PATH and scope["method"] == "POST":
            await _serve(scope, receive, send)
        else:
            await django_app(scope, receive, send)

    return app


async def _serve(scope, receive, send):
    headers = {}
    for name, value in scope["headers"]:
        headers[name.decode("latin-1").lower()] = value.decode("latin-1")
    chunks = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_COMPRESSED_BYTES:
            # Stop reading: refuse without buffering the rest.
            response = handler.error(413, "too_large", f"body is over {MAX_COMPRESSED_BYTES} bytes", "body")
            await _send(send, response)
            return
        chunks.append(chunk)
        more = message.get("more_body", False)
    body = b"".join(chunks)
    try:
        try:
            # Steady state: key and app are cached, so the checks are pure CPU; running
            # them here avoids a thread hop and GIL ping-pong.
            result = handler.check(headers, body, inline=True)
        except NeedsDatabase:
            loop = asyncio.get_running_loop()
            try:
                result = await loop.run_in_executor(_pool, _check_with_database, headers, body)
            except OperationalError:
                result = handler.unavailable()
        if isinstance(result, handler.Response):
            response = result
        else:
            enqueued = await _enqueuer.enqueue(result.org_id, result.app_id, result.body)
            response = handler.finish(result, enqueued)
    except Exception:
        import logging

        logging.getLogger("pulse.ingest").exception("ingest failed")
        response = handler.error(500, "internal", "internal error; the payload was not accepted")
    await _send(send, response)


def _check_with_database(headers, body):
    # Hand the connection back (to the pool, or closed when broken or too old) after each
    # look-up: these threads live as long as the process and would otherwise hold one
    # connection each forever, dead after a PostgreSQL restart.
    try:
        return handler.check(headers, body)
    finally:
        close_old_connections()


async def _send(send, response):
    await send(
        {
            "type": "http.response.start",
            "status": response.status,
            "headers": [*response.headers, (b"content-length", str(len(response.body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": response.body})
