"""POST /api/v1/ingest, framework-free: headers and body in, (status, headers, JSON) out.

Served two ways with the same code: by ingest/asgi.py in front of Django (the fast
path production uses, no middleware stack) and by the Django view in ingest/views.py.
No database access in steady state: keys and apps come from per-process caches.
"""

import re
import zlib

import msgspec
from isal import isal_zlib
from django.conf import settings
from django.db import OperationalError

from contract import queued
from contract.schema import MAX_COMPRESSED_BYTES, MAX_DECOMPRESSED_BYTES, decode_payload
from ingest import handoff, live_flag
from ingest.app_resolver import resolve_app
from ingest.errors import NeedsDatabase, Refused
from tenants.caching import AnswerCache
from tenants.keys import looks_like_key, resolve_ingest_key
from tenants.limits import LimitReached
from tenants.secret_tokens import bearer

_PATH_RE = re.compile(r"^(.*) - at `\$\.?(.*)`$", re.S)
_FIELD_RE = re.compile(r"^\[([\w.\[\]]+)\] (.*)$", re.S)
_NUL_RE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_encode = msgspec.json.encode


class Response:
    __slots__ = ("status", "headers", "body")

    def __init__(self, status, payload, headers=()):
        self.status = status
        self.body = _encode(payload)
        self.headers = [(b"content-type", b"application/json"), *headers]


def error(status, code, message, field=None, headers=()):
    err = {"code": code, "message": message}
    if field is not None:
        err["field"] = field
    return Response(status, {"error": err}, headers)


def error_of(refused):
    """The protocol's JSON error Response of a Refused."""
    return error(refused.status, refused.code, refused.message, refused.field, refused.headers)


def media_type(value):
    return value.split(";", 1)[0].strip().lower()


# Answers of resolve_ingest_key for the inline path: it must not touch the database (it
# runs on the event loop), and resolve_ingest_key may. Short-lived, so a revoked key
# still stops within INGEST_KEY_CACHE_SECONDS + this.
_KEYS_TTL = 2.0
_KEYS_MAX = 10_000
_MISSING = object()


def _keys_ttl():
    return min(_KEYS_TTL, settings.INGEST_KEY_CACHE_SECONDS)


_keys = AnswerCache(_KEYS_MAX, _keys_ttl, _KEYS_MAX, _keys_ttl)  # raw key -> ResolvedKey or None


def _cached_key(raw_key):
    if not looks_like_key(raw_key):
        return None
    resolved = _keys.get(raw_key, _MISSING)
    if resolved is _MISSING:
        raise NeedsDatabase()
    return resolved


def _resolve_key(raw_key):
    resolved = resolve_ingest_key(raw_key)
    _keys.set(raw_key, resolved)
    return resolved


class Accepted:
    """A valid payload, ready for the queue."""

    __slots__ = ("org_id", "app_id", "body", "batch_id", "apdex_t")

    def __init__(self, org_id, app_id, body, batch_id, apdex_t):
        self.org_id, self.app_id, self.body, self.batch_id, self.apdex_t = org_id, app_id, body, batch_id, apdex_t


def check(headers, body, inline=False):
    """Authenticate, decode and validate: an error Response, or Accepted.

    ``headers``: dict of lower-case str names → str values; ``body``: the raw bytes. A
    caller that stops reading at MAX_COMPRESSED_BYTES + 1 passes what it read; any
    longer body is refused here. ``inline``: answer only from caches (no database),
    raising NeedsDatabase otherwise, so an event loop can run it without a thread.
    """
    resolved = authenticate(headers, inline)
    if isinstance(resolved, Response):
        return resolved
    return check_body(resolved, headers, body, inline)


def presented_key(headers):
    """The key of the 'Authorization: Bearer <key>' header (``headers`` in lower case), or None."""
    return bearer(headers.get("authorization"))


def authenticate(headers, inline=False):
    """The headers' part of ``check``, so a caller can refuse before reading the body: an
    error Response, or the ResolvedKey."""
    content_type = media_type(headers.get("content-type", ""))
    if content_type != "application/json":
        return error(415, "unsupported_media_type", "Content-Type must be application/json", "Content-Type")
    encoding = headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("gzip", "identity", ""):
        return error(415, "unsupported_media_type", "Content-Encoding must be gzip or identity", "Content-Encoding")

    raw_key = presented_key(headers)
    if raw_key is None:
        return error(401, "unauthorized", "send the ingest key as 'Authorization: Bearer <key>'", "Authorization")
    resolved = key_of(raw_key, inline)
    if resolved is None:
        return error(401, "unauthorized", "unknown or revoked ingest key", "Authorization")
    return resolved


def key_of(raw_key, inline=False):
    """The ResolvedKey of ``raw_key``, or None when it is unknown or revoked (with
    ``inline``: from the cache only, raising NeedsDatabase on a miss)."""
    return _cached_key(raw_key) if inline else _resolve_key(raw_key)


def check_body(resolved, headers, body, inline=False):
    """The rest of ``check`` once ``authenticate`` gave ``resolved``."""
    if len(body) > MAX_COMPRESSED_BYTES:
        return error(413, "too_large", f"body is over {MAX_COMPRESSED_BYTES} bytes", "body")
    gzipped = headers.get("content-encoding", "identity").strip().lower() == "gzip"
    try:
        raw = gunzip(body) if gzipped else body
    except Refused as refused:
        return error_of(refused)
    if len(raw) > MAX_DECOMPRESSED_BYTES:
        return error(413, "too_large", f"body is over {MAX_DECOMPRESSED_BYTES} bytes decompressed", "body")

    try:
        payload = decode_payload(raw)
    except msgspec.ValidationError as exc:
        message, field = _split_path(str(exc))
        return error(400, "invalid", message, field or "body")
    except msgspec.DecodeError as exc:
        return error(400, "invalid", f"body is not valid JSON: {exc}", "body")
    if b"\\u0000" in raw and _NUL_RE.search(raw):
        return error(400, "invalid", "strings must not contain NUL characters", "body")
    try:
        sketches = queued.check_sketches(payload.metrics)  # handed to the worker, which need not decode them again
    except queued.BadSketch as exc:
        return error(400, "invalid", exc.reason, f"metrics[{exc.index}].sketch")
    try:
        operation_sketches = queued.check_sketches(payload.operations)
    except queued.BadSketch as exc:
        return error(400, "invalid", exc.reason, f"operations[{exc.index}].sketch")

    try:
        app_id, apdex_t = app_for(resolved, payload.app, inline)
    except Refused as refused:
        return error_of(refused)
    # The workers get the validated payload in a form cheaper to apply than gzip JSON.
    packed = queued.pack(payload, sketches, operation_sketches)
    if len(packed) > settings.INGEST_ENTRY_MAX_BYTES:
        # A small gzip body can expand a thousandfold: the queue takes the expanded form.
        return error(
            413,
            "too_large",
            f"this payload takes {len(packed)} bytes queued, over the limit of {settings.INGEST_ENTRY_MAX_BYTES}; "
            "send fewer events, traces, spans or attributes per payload",
            "body",
        )
    return Accepted(resolved.organization_id, app_id, packed, payload.batch_id, apdex_t)


def app_for(resolved, name, inline=False):
    """(app id, Apdex T) of the app ``name`` that the key ``resolved`` sends for, created on
    first data; raises Refused when the key is bound to another app or the organisation
    is at its app limit."""
    # A key bound to an app is refused for any other name before the lookup, which would
    # create the app; the ids are compared after, whatever the names' case rules.
    if resolved.app_name is not None and name.upper() != resolved.app_name.upper():
        raise _wrong_app(resolved)
    try:
        app_id, apdex_t = resolve_app(resolved.organization_id, name, cache_only=inline)
    except LimitReached as exc:
        raise Refused(403, "app_limit", f"{exc} Delete an app or use an existing app name.", "app") from None
    if resolved.app_id is not None and app_id != resolved.app_id:
        raise _wrong_app(resolved)
    return app_id, apdex_t


def _wrong_app(resolved):
    return Refused(403, "wrong_app", f"this ingest key may only send data for the app {resolved.app_name!r}", "app")


def finish(accepted, enqueued, live=False):
    """The response once ``accepted`` went to ingest.handoff (``enqueued``: its result);
    ``live``: someone has the app's live page open (ingest/live_flag.py)."""
    refused = refusal(enqueued)
    if refused is not None:
        return error_of(refused)
    reply = {"batch_id": accepted.batch_id, "apdex_t": accepted.apdex_t}
    if live:
        reply["live"] = True  # the agent sends its sampled events every half second
    return Response(202, reply)


def refusal(enqueued):
    """Refused when ingest.handoff did not queue the payload (``enqueued``: its result), else None."""
    status, retry_after, _ = enqueued
    if status == handoff.ACCEPTED:
        return None
    retry = [(b"retry-after", str(retry_after).encode())]
    if status == handoff.OVER_QUOTA:
        return Refused(
            429,
            "over_quota",
            f"organisation is over its quota of {settings.INGEST_QUOTA_PER_MINUTE} payloads per minute",
            headers=retry,
        )
    if status == handoff.OVER_SHARE:
        return Refused(
            429,
            "backlog_share_full",
            "this organisation's payloads waiting to be processed have reached its share of the backlog "
            f"({settings.INGEST_BACKLOG_BYTES_PER_ORG} bytes); retry later",
            headers=retry,
        )
    if status == handoff.BACKLOG_FULL:
        return Refused(503, "backlog_full", "the server is catching up; retry later", headers=retry)
    return None


def unavailable():
    """The answer when the database is out of reach on a cache miss: retry, not a bug."""
    return error_of(unavailable_refusal())


def unavailable_refusal():
    return Refused(
        503,
        "unavailable",
        "the server cannot check this request right now; retry later",
        headers=[(b"retry-after", str(settings.INGEST_BACKLOG_RETRY_AFTER).encode())],
    )


def too_many_unknown_keys(retry_after):
    """The answer to a client that presented too many unknown keys of late (ingest/lookups.py)."""
    return error_of(unknown_keys_refusal(retry_after))


def unknown_keys_refusal(retry_after):
    return Refused(
        429,
        "too_many_unknown_keys",
        "too many requests with unknown ingest keys from this address; retry later",
        "Authorization",
        headers=[(b"retry-after", str(retry_after).encode())],
    )


def handle(headers, body):
    """Check and queue one request (synchronous callers: the Django view, the thread pool)."""
    try:
        result = check(headers, body)
    except OperationalError:
        return unavailable()
    if isinstance(result, Response):
        return result
    enqueued = handoff.enqueue(result.org_id, result.app_id, result.body)
    return finish(result, enqueued, live_flag.watched.blocking(result.app_id))


def gunzip(body, limit=MAX_DECOMPRESSED_BYTES):
    """The inflated gzip ``body``; raises Refused (400 for bad gzip, 413 past ``limit`` bytes)."""
    # wbits 16+MAX_WBITS: gzip framing only. max_length bounds memory whatever the ratio.
    # ISA-L's inflate: the same stream semantics as zlib's, a third less CPU (every body is gzip).
    d = isal_zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(body, limit + 1)
    except isal_zlib.error as exc:
        raise Refused(400, "invalid", f"body is not valid gzip: {exc}", "body") from None
    if len(out) > limit or d.unconsumed_tail:
        raise Refused(413, "too_large", f"body is over {limit} bytes decompressed", "body")
    if not d.eof:
        raise Refused(400, "invalid", "body is not valid gzip: truncated", "body")
    if d.unused_data:
        raise Refused(400, "invalid", "body is not valid gzip: data after the end of the stream", "body")
    return out


def _split_path(text):
    """msgspec's "message - at `$.a[1].b`" → (message, "a[1].b"), with the field a
    ``__post_init__`` named (contract.schema.fail) appended."""
    m = _PATH_RE.match(text)
    message, path = (m.group(1), m.group(2)) if m else (text, "")
    f = _FIELD_RE.match(message)
    if f:
        message = f.group(2)
        path = f"{path}.{f.group(1)}" if path else f.group(1)
    return message, path or None
