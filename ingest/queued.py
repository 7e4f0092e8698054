"""The queued form of a payload: what ingest hands the rollup workers through Redis.

Ingest has already decoded and validated the payload (ingest/schema.py) and decoded
its sketches to check them; the queued form keeps that work instead of making a worker
repeat it, and is laid out for what the worker does next:

- events as columns (one list per field), which go to Postgres as arrays
  (apm/rollup.py, apm/pgarray.py) without ever being objects on the worker;
- each trace's spans already encoded as the JSON stored in ``apm_trace.spans``;
- each metric's sketch checked and split (ingest/sketch_check.py): a harvest sketch as
  its first bin, the steps from bin to bin and the counts (bytes), any other as bins;
- msgpack arrays rather than maps (``array_like``): no field names in every element.

Measured on a harvest of 50 metrics, 200 events and 3 traces: smaller than msgpack of
the payload objects (43 KB instead of 54 KB in Redis) and cheaper to decode.
``from_payload`` builds it from either the ingest schema's objects or the workers'
lenient decoding of agent JSON, so every entry reaches ``apply_batch`` in this form.
"""

import msgspec

FORMAT = "q"  # the stream entry's "f" field for this form (ingest/queue.py, apm.rollup.decode_entry)


class _Struct(msgspec.Struct, array_like=True, gc=False):
    """Positional msgpack arrays; no reference cycles, so untracked by the GC."""


class QueuedMetric(_Struct):
    name: str
    type: str
    minute: int
    count: int
    errors: int
    sum: float
    min: float
    max: float
    apdex_s: int
    apdex_t: int
    apdex_f: int
    python: float
    database: float
    external: float
    template: float
    zero_count: int
    bins: dict[int, int]  # a sketch not in the split form below (else empty)
    # The split form of apm.sketches.split_small (first_count 0: not used). Added after
    # ``bins`` with defaults, so entries queued before it still decode.
    first_index: int = 0
    first_count: int = 0
    steps: bytes = b""
    counts: bytes = b""


class QueuedEvents(_Struct):
    names: list[str]
    types: list[str]
    ends: list[float]
    durations: list[float]
    statuses: list[int | None]
    errors: list[bool]
    trace_ids: list[str]
    has_trace: list[bool]

    def __len__(self):
        return len(self.ends)


class QueuedTrace(_Struct):
    trace_id: str
    parent_span_id: str | None
    name: str
    type: str
    start: float
    duration: float
    status: int | None
    error: bool
    span_count: int
    spans: bytes  # JSON, as stored


class QueuedFrame(msgspec.Struct, gc=False):
    # A map, not an array: stored as is in apm_errorsample.stack (JSON objects).
    file: str
    line: int | None
    function: str
    code: str | None = None


class QueuedError(_Struct):
    error_class: str
    message: str
    stack: list[QueuedFrame]
    transaction: str | None
    time: float
    trace_id: str | None


class QueuedInstance(_Struct):
    host: str
    pid: int
    time: float
    cpu_percent: float
    memory_bytes: int
    threads: int | None
    started_at: float
    agent_version: str
    runtime_version: str
    framework: str | None
    dropped: dict[str, int]


class QueuedPayload(_Struct):
    batch_id: str
    sent_at: float
    metrics: list[QueuedMetric]
    events: QueuedEvents
    traces: list[QueuedTrace]
    errors: list[QueuedError]
    instance: QueuedInstance | None


_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(QueuedPayload).decode
_json = msgspec.json.encode


def _spans_json(spans):
    if spans and isinstance(spans[0], msgspec.Raw):  # lenient decoding keeps each span's JSON
        return b"[" + b",".join(spans) + b"]"
    return _json(spans)


def _dropped(dropped):
    return dropped if isinstance(dropped, dict) else msgspec.structs.asdict(dropped)


def from_payload(p, sketches):
    """The queued form of a decoded payload ``p`` (ingest.schema.Payload, or apm.rollup's
    lenient decoding) whose metrics' sketches are ``sketches``: the sketch fields of
    QueuedMetric, from ingest.sketch_check.check_sketch or ``sketch_fields``."""
    ev = p.events
    i = p.instance
    return QueuedPayload(
        p.batch_id,
        p.sent_at,
        [
            QueuedMetric(
                m.name, m.type, m.minute, m.count, m.errors, m.sum, m.min, m.max, *m.apdex,
                m.segments.python, m.segments.database, m.segments.external, m.segments.template, *sk,
            )
            for m, sk in zip(p.metrics, sketches)
        ],
        QueuedEvents(
            [e.name for e in ev],
            [e.type for e in ev],
            [e.end for e in ev],
            [e.duration for e in ev],
            [e.status for e in ev],
            [e.error for e in ev],
            [e.trace_id for e in ev],
            [e.has_trace for e in ev],
        ),
        [
            QueuedTrace(
                t.trace_id, t.parent_span_id, t.name, t.type, t.start, t.duration, t.status, t.error,
                len(t.spans), _spans_json(t.spans),
            )
            for t in p.traces
        ],
        [
            QueuedError(
                e.error_class, e.message, [QueuedFrame(f.file, f.line, f.function, f.code) for f in e.stack],
                e.transaction, e.time, e.trace_id,
            )
            for e in p.errors
        ],
        None if i is None else QueuedInstance(
            i.host, i.pid, i.time, i.cpu_percent, i.memory_bytes, i.threads, i.started_at, i.agent_version,
            i.runtime_version, i.framework, _dropped(i.dropped),
        ),
    )


def bins_fields(zero_count, bins):
    """QueuedMetric's sketch fields for a sketch given as its bins (not split)."""
    return (zero_count, bins, 0, 0, b"", b"")


def sketch_fields(sketch):
    """QueuedMetric's sketch fields for a decoded DDSketch."""
    return bins_fields(sketch.zero_count, sketch.bins)


def pack(p, sketches):
    """msgpack bytes of ``from_payload(p, sketches)`` (what ingest queues)."""
    return _encode(from_payload(p, sketches))


def unpack(body):
    return _decode(body)
