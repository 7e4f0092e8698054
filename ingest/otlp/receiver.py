"""POST /v1/traces, /v1/metrics and /v1/logs, framework-free: headers and body in, an
answer out, served by ingest/asgi.py (production) and ingest/views.py with the same code.

As the agent's path (ingest/handler.py, whose rules this reuses): the key is checked
from the headers before any of the body is read; the key bound to an app, the app limit,
the quota, the backlog share and bound and the queued entry's size cap apply the same.
What differs is OTLP's: protobuf or JSON, ``200`` with ``partial_success`` naming the
spans rejected and why, errors as a ``google.rpc.Status`` in the request's encoding.
"""

import time

from django.conf import settings
from django.db import OperationalError

from contract import queued
from contract.schema import MAX_DECOMPRESSED_BYTES
from ingest import handler, handoff
from ingest.errors import Refused
from ingest.otlp import logs, spans, wire

KEY_HEADER = "x-pulse-ingest-key"
MAX_BODY_BYTES = MAX_DECOMPRESSED_BYTES  # as sent; SDKs send uncompressed by default


class Answer(handler.Response):
    """A Response whose body is already bytes of ``media`` type."""

    def __init__(self, status, body, media, headers=()):
        self.status, self.body = status, body
        self.headers = [(b"content-type", media.encode()), *headers]


def media_of(headers):
    """The request's media type when OTLP's, else JSON (the answer's encoding either way)."""
    media = handler.media_type(headers.get("content-type", ""))
    return media if media in wire.MEDIA_TYPES else wire.JSON


def refused(media, refusal):
    """The ``google.rpc.Status`` answer of a Refused, in ``media``."""
    text = refusal.message if refusal.field is None else f"{refusal.message} ({refusal.field})"
    return Answer(refusal.status, wire.render(wire.status(refusal.status, text), media), media, refusal.headers)


def presented_key(headers):
    """The key of an 'x-pulse-ingest-key' header, else of 'Authorization: Bearer', or None."""
    raw_key = headers.get(KEY_HEADER, "").strip()
    return raw_key or handler.presented_key(headers)


def authenticate(headers, inline=False):
    """The headers' checks: an error Answer, or the ResolvedKey (``inline``: as handler.authenticate)."""
    media = handler.media_type(headers.get("content-type", ""))
    if media not in wire.MEDIA_TYPES:
        return refused(wire.JSON, Refused(
            415, "unsupported_media_type", "Content-Type must be application/x-protobuf or application/json",
            "Content-Type",
        ))
    encoding = headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("gzip", "identity", ""):
        return refused(media, Refused(
            415, "unsupported_media_type", "Content-Encoding must be gzip or identity", "Content-Encoding",
        ))
    raw_key = presented_key(headers)
    if raw_key is None:
        return refused(media, Refused(
            401, "unauthorized",
            f"send the ingest key in the header '{KEY_HEADER}' (OTEL_EXPORTER_OTLP_HEADERS={KEY_HEADER}=<key>) "
            "or as 'Authorization: Bearer <key>'",
            KEY_HEADER,
        ))
    resolved = handler.key_of(raw_key, inline)
    if resolved is None:
        return refused(media, Refused(401, "unauthorized", "unknown or revoked ingest key", KEY_HEADER))
    return resolved


class Queued:
    """One app's share of a request, ready for the hand-off."""

    __slots__ = ("org_id", "app_id", "body", "items")

    def __init__(self, org_id, app_id, body, items):
        self.org_id, self.app_id, self.body, self.items = org_id, app_id, body, items


class Checked:
    """A request that passed its checks: ``queue`` (Queued, one per app), the items it
    rejected and why."""

    __slots__ = ("signal", "media", "queue", "rejected", "reasons")

    def __init__(self, signal, media, queue, rejected, reasons):
        self.signal, self.media, self.queue, self.rejected, self.reasons = signal, media, queue, rejected, reasons


def check_body(resolved, headers, body, signal, inline=False):
    """The body's checks once ``authenticate`` gave ``resolved``: an error Answer, or Checked.
    ``inline``: answer from the caches only, raising NeedsDatabase otherwise."""
    media = media_of(headers)
    try:
        return _check_body(resolved, headers, body, signal, media, inline)
    except Refused as refusal:
        return refused(media, refusal)


def _check_body(resolved, headers, body, signal, media, inline):
    if len(body) > MAX_BODY_BYTES:
        raise Refused(413, "too_large", f"body is over {MAX_BODY_BYTES} bytes", "body")
    gzipped = headers.get("content-encoding", "identity").strip().lower() == "gzip"
    raw = handler.gunzip(body, MAX_DECOMPRESSED_BYTES) if gzipped else body
    try:
        message = wire.parse(signal, raw, media)
    except wire.BadMessage as exc:
        raise Refused(400, "invalid", str(exc), "body") from None
    if signal is wire.METRICS:
        # Accepted, as the specification asks of a receiver that keeps nothing of a signal;
        # the warning says so to whoever reads the exporter's log.
        return Checked(signal, media, [], 0, f"Pulse keeps no metrics; these {signal.items} were not stored")
    if signal is wire.TRACES:
        resources, mapper = message.resource_spans, spans.map_spans
    else:
        resources, mapper = message.resource_logs, logs.map_logs

    by_service = {}
    for r in resources:
        by_service.setdefault(spans.service_name(r.resource), []).append(r)
    apps = {name: handler.app_for(resolved, name, inline) for name in by_service}
    now = time.time()
    queue, reasons, ignored = [], {}, 0
    for name, group in by_service.items():
        app_id, apdex_t = apps[name]
        mapped = mapper(group, app_id, apdex_t, spans.batch_id(raw, name), now)
        for reason, n in mapped.rejected.items():
            reasons[reason] = reasons.get(reason, 0) + n
        ignored += mapped.ignored
        if mapped.payload is None:
            continue
        packed = queued.pack_queued(mapped.payload)
        if len(packed) > settings.INGEST_ENTRY_MAX_BYTES:
            raise Refused(
                413, "too_large",
                f"the {signal.items} of {name!r} take {len(packed)} bytes queued, over the limit of "
                f"{settings.INGEST_ENTRY_MAX_BYTES}; send fewer per request (OTEL_BSP_MAX_EXPORT_BATCH_SIZE)",
                "body",
            )
        taken = mapped.items - sum(mapped.rejected.values())
        queue.append(Queued(resolved.organization_id, app_id, packed, taken))
    note = _describe(signal, reasons)
    if ignored:
        note = "; ".join(filter(None, [note, f"{signal.items} without an exception are not stored: {ignored}"]))
    return Checked(signal, media, queue, sum(reasons.values()), note)


def _describe(signal, reasons):
    return "; ".join(f"{n} {signal.item if n == 1 else signal.items}: {reason}" for reason, n in reasons.items())


def finish(checked, enqueued):
    """The answer once each of ``checked.queue`` went to ingest.handoff (``enqueued``: their results)."""
    refusals = [handler.refusal(result) for result in enqueued]
    first = next((r for r in refusals if r is not None), None)
    if first is not None and all(r is not None for r in refusals):
        return refused(checked.media, first)  # nothing taken: the exporter retries after Retry-After
    rejected, reason = checked.rejected, checked.reasons
    if first is not None:  # some apps' spans taken, others refused: those count as rejected
        lost = sum(q.items for q, r in zip(checked.queue, refusals) if r is not None)
        rejected += lost
        reason = "; ".join(filter(None, [reason, f"{lost} {checked.signal.items}: {first.message}"]))
    message = wire.response(checked.signal, rejected, reason)
    return Answer(200, wire.render(message, checked.media), checked.media)


def internal_error(media):
    return refused(media, Refused(500, "internal", "internal error; the request was not accepted"))


def handle(headers, body, signal):
    """Check and queue one request (synchronous callers: the Django view)."""
    media = media_of(headers)
    try:
        resolved = authenticate(headers)
        if isinstance(resolved, handler.Response):
            return resolved
        checked = check_body(resolved, headers, body, signal)
    except OperationalError:
        return refused(media, handler.unavailable_refusal())
    if isinstance(checked, handler.Response):
        return checked
    return finish(checked, [handoff.enqueue(q.org_id, q.app_id, q.body) for q in checked.queue])
