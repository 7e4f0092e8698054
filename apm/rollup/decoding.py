"""Stream entries as the worker reads them, decoded into ingest.queued's form."""

import zlib

import msgspec

from apm.sketches import decode_base64
from ingest import queued

# --- decoding ---------------------------------------------------------------------
# Entries queued by ingest are ingest.queued's form (validated there). These lenient
# structs read agent JSON queued as is (tests, seeding tools) and entries of the
# previous release's format ("m"); both are converted to the queued form.


class _Segments(msgspec.Struct, gc=False):
    python: float = 0.0
    database: float = 0.0
    external: float = 0.0
    template: float = 0.0


class _Metric(msgspec.Struct, gc=False):
    name: str
    type: str
    minute: int
    count: int
    errors: int
    sum: float
    min: float
    max: float
    apdex: list
    segments: _Segments
    sketch: str


class _Event(msgspec.Struct, gc=False):
    name: str
    type: str
    end: float
    duration: float
    status: int | None
    error: bool
    trace_id: str
    has_trace: bool = False


class _Trace(msgspec.Struct, gc=False):
    trace_id: str
    parent_span_id: str | None
    name: str
    type: str
    start: float
    duration: float
    status: int | None
    error: bool
    spans: list[msgspec.Raw]


class _Error(queued.QueuedError, array_like=False):
    """The queued form's error fields, read from a JSON object (``trace_id`` optional)."""

    error_class: str = msgspec.field(name="class")
    trace_id: str | None = None


class _Instance(queued.QueuedInstance, array_like=False):
    """The queued form's instance fields, read from a JSON object (``dropped`` optional)."""

    dropped: dict = {}


class _Payload(msgspec.Struct, gc=False):
    batch_id: str
    sent_at: float
    metrics: list[_Metric] = []
    events: list[_Event] = []
    traces: list[_Trace] = []
    errors: list[_Error] = []
    instance: _Instance | None = None


class _SpanM(msgspec.Struct, gc=False, omit_defaults=True):
    # Field order and omitted default as ingest.schema.Span: re-encodes to the same JSON.
    # A struct, not a dict: untracked by the GC and about 20 us a payload cheaper.
    id: str
    parent: str | None
    kind: str
    name: str
    offset: float
    duration: float
    attrs: dict = {}


class _TraceM(_Trace):
    spans: list[_SpanM]  # from msgpack: span objects, re-encoded to JSON when stored


class _PayloadM(_Payload):
    traces: list[_TraceM] = []


_decode = msgspec.json.Decoder(_Payload).decode
_decode_msgpack = msgspec.msgpack.Decoder(tuple[_PayloadM, list[tuple[int, dict[int, int]]]]).decode


class Queued(msgspec.Struct):
    """One stream entry: a payload accepted by ingest for an org and app.

    ``fmt`` "q": ``body`` is ingest.queued's msgpack, what ingest queues. "m": msgpack of
    (payload, sketches) as the previous release queued it. Otherwise ``body`` is the
    JSON body as the agent sent it, gzip-compressed when ``gzipped``.
    """

    entry_id: str
    org_id: int
    app_id: str
    body: bytes
    gzipped: bool
    received_at: float
    fmt: str = ""


def decode_entry(q):
    """The entry's payload as ingest.queued.QueuedPayload."""
    if q.fmt == queued.FORMAT:
        return queued.unpack(q.body)
    if q.fmt == "m":
        p, sketches = _decode_msgpack(q.body)
        return queued.from_payload(p, [queued.bins_fields(zero, bins) for zero, bins in sketches])
    raw = zlib.decompress(q.body, 16 + zlib.MAX_WBITS) if q.gzipped else q.body
    p = _decode(raw)
    return queued.from_payload(p, [queued.sketch_fields(decode_base64(m.sketch)) for m in p.metrics])

