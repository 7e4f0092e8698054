"""Protocol v1 (docs/protocol-v1.md) as msgspec Structs: one declaration validates requests
and generates the JSON Schema served at GET /api/v1/schema.

Per-field rules (types, lengths, ranges, unknown fields) are msgspec constraints;
rules across fields and rules relative to the current time live in ``__post_init__``,
whose errors msgspec reports with the path of the offending object.
"""

import re
import time
from collections.abc import Iterator
from typing import Annotated, Any, Literal, NoReturn

import msgspec

MAX_COMPRESSED_BYTES = 1 << 20
MAX_DECOMPRESSED_BYTES = 10 << 20
PAST_WINDOW = 24 * 3600  # timestamps may be this old ...
FUTURE_WINDOW = 600  # ... or this far ahead of the server clock
MAX_DURATION = 86400.0
MAX_SKETCH_BYTES = 16 << 10

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
# Lengths are checked per field; "lowercase hex" for all ids of a payload at once in
# Payload.__post_init__ (one regex over their concatenation instead of hundreds of
# calls: about 40 % of the decoding time). The schema still states the pattern.
Hex32 = Annotated[
    str, msgspec.Meta(min_length=32, max_length=32, extra_json_schema={"pattern": "^[0-9a-f]{32}$"})
]
Hex16 = Annotated[
    str, msgspec.Meta(min_length=16, max_length=16, extra_json_schema={"pattern": "^[0-9a-f]{16}$"})
]
_HEX = re.compile("[0-9a-f]*")
_NOT_HEX = bytes(range(256)).translate(None, b"0123456789abcdef")  # translate() deletes these
Duration = Annotated[float, msgspec.Meta(ge=0.0, le=MAX_DURATION)]
Timestamp = Annotated[float, msgspec.Meta(gt=0.0, description="unix seconds")]
Status = Annotated[int, msgspec.Meta(ge=100, le=599)]
Count = Annotated[int, msgspec.Meta(ge=0, le=10_000_000)]
TxnType = Literal["web", "background"]
SpanKind = Literal["python", "database", "external", "template", "function"]
ShortStr = Annotated[str, msgspec.Meta(max_length=255)]


def fail(field: str, message: str) -> NoReturn:
    """Raise from ``__post_init__`` naming the field (ingest/handler.py appends it to the path)."""
    raise ValueError(f"[{field}] {message}")


def check_time(value: float, what: str) -> None:
    now = time.time()
    if value < now - PAST_WINDOW:
        fail(what, f"{what} is more than 24 h in the past")
    if value > now + FUTURE_WINDOW:
        fail(what, f"{what} is more than 10 min in the future")


class Struct(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, gc=False):
    """Our structs hold no reference cycles: untracked by the GC, which is faster to decode."""


class Segments(Struct):
    python: Annotated[float, msgspec.Meta(ge=0.0)] = 0.0
    database: Annotated[float, msgspec.Meta(ge=0.0)] = 0.0
    external: Annotated[float, msgspec.Meta(ge=0.0)] = 0.0
    template: Annotated[float, msgspec.Meta(ge=0.0)] = 0.0



def _minute_and_errors_problem(minute: int, errors: int, count: int, now: float) -> tuple[str, str] | None:
    """The rules a metric row and an operation row share: a whole minute within the accepted
    window, and no more errors than calls."""
    if minute % 60:
        return "minute", "minute must be a multiple of 60"
    if minute < now - PAST_WINDOW:
        return "minute", "minute is more than 24 h in the past"
    if minute > now + FUTURE_WINDOW:
        return "minute", "minute is more than 10 min in the future"
    if errors > count:
        return "errors", "errors must not exceed count"
    return None

class Metric(Struct):
    name: Name
    type: TxnType
    minute: int
    count: Annotated[int, msgspec.Meta(ge=1, le=10_000_000)]
    errors: Count
    sum: Annotated[float, msgspec.Meta(ge=0.0)]
    min: Duration
    max: Duration
    apdex: Annotated[list[Count], msgspec.Meta(min_length=3, max_length=3)]
    segments: Segments
    # base64 in JSON, decoded by msgspec; the encoded sketch is checked by contract.queued.check_sketches.
    sketch: Annotated[bytes, msgspec.Meta(min_length=1, max_length=MAX_SKETCH_BYTES)]

    # The rules across this object's fields are checked by Payload.__post_init__, for all
    # metrics in one loop with one clock read (a __post_init__ each cost more).

    def problem(self, now: float) -> tuple[str, str] | None:
        """(field, message) of the first rule this metric breaks, or None."""
        bad = _minute_and_errors_problem(self.minute, self.errors, self.count, now)
        if bad is not None:
            return bad
        if self.min > self.max:
            return "min", "min must not exceed max"
        # Float sums of many durations may round below max by a hair.
        if self.sum < self.max * (1 - 1e-9) or self.sum > MAX_DURATION * self.count:
            return "sum", "sum must lie between max and count x 86400"
        if sum(self.apdex) != self.count:
            return "apdex", "apdex counts must add up to count"
        seg = self.segments
        if seg.python + seg.database + seg.external + seg.template > MAX_DURATION * self.count:
            return "segments", "segments exceed count x 86400 seconds"
        return None


class Event(Struct):
    name: Name
    type: TxnType
    end: Timestamp
    duration: Duration
    status: Status | None
    error: bool
    trace_id: Hex32
    has_trace: bool = False
    # ``end`` is checked against the clock by Payload, in one pass over all events.


class Span(Struct):
    id: Hex16
    parent: Hex16 | None
    kind: SpanKind
    name: ShortStr
    offset: Duration
    duration: Duration
    attrs: Annotated[
        dict[Annotated[str, msgspec.Meta(max_length=64)], Annotated[str, msgspec.Meta(max_length=4096)]],
        msgspec.Meta(max_length=16),
    ] = {}


class TraceIn(Struct):
    trace_id: Hex32
    parent_span_id: Hex16 | None
    name: Name
    type: TxnType
    start: Timestamp
    duration: Duration
    status: Status | None
    error: bool
    spans: Annotated[list[Span], msgspec.Meta(max_length=500)]

    def __post_init__(self) -> None:
        check_time(self.start, "start")


class Frame(Struct):
    file: Annotated[str, msgspec.Meta(max_length=1024)]
    line: Annotated[int, msgspec.Meta(ge=0, le=10_000_000)] | None
    function: ShortStr
    code: Annotated[str, msgspec.Meta(max_length=512)] | None = None


class ErrorIn(Struct, rename={"error_class": "class"}):
    error_class: Name
    message: Annotated[str, msgspec.Meta(max_length=2048)]
    stack: Annotated[list[Frame], msgspec.Meta(max_length=100)]
    transaction: Name | None
    time: Timestamp
    trace_id: Hex32 | None = None

    def __post_init__(self) -> None:
        check_time(self.time, "time")


class Dropped(Struct):
    events: Count = 0
    traces: Count = 0
    errors: Count = 0
    metrics: Count = 0
    payloads: Count = 0


MAX_OPERATIONS = 2000  # (transaction, operation, minute) rows per payload
OperationKind = Literal["database", "external"]


class Operation(Struct):
    """Database statements or outbound calls of one kind to one operation, made by one
    transaction name and ending in one minute (an optional section: older agents omit it)."""

    transaction: Name
    kind: OperationKind
    # database system ("postgresql", "redis") or, for external calls, the host[:port]
    service: Name
    operation: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]  # SELECT, GET, ...
    minute: int
    count: Annotated[int, msgspec.Meta(ge=1, le=10_000_000)]
    errors: Count
    sum: Annotated[float, msgspec.Meta(ge=0.0)]
    sketch: Annotated[bytes, msgspec.Meta(min_length=1, max_length=MAX_SKETCH_BYTES)]
    table: Annotated[str, msgspec.Meta(max_length=255)] = ""  # target table; "" when none

    def problem(self, now: float) -> tuple[str, str] | None:
        """(field, message) of the first rule this operation breaks, or None."""
        bad = _minute_and_errors_problem(self.minute, self.errors, self.count, now)
        if bad is not None:
            return bad
        if self.sum > MAX_DURATION * self.count:
            return "sum", "sum must not exceed count x 86400"
        return None


MAX_DB_POOLS = 32
Connections = Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]


class DbPool(Struct):
    """Open database connections of one pool, or of one Django alias across threads."""

    name: Name
    open: Connections
    in_use: Connections | None = None
    max: Connections | None = None

    def __post_init__(self) -> None:
        if self.in_use is not None and self.in_use > self.open:
            fail("in_use", "in_use is more than open")


class Instance(Struct):
    host: ShortStr
    pid: Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)]
    time: Timestamp
    cpu_percent: Annotated[float, msgspec.Meta(ge=0.0, le=100_000.0)]
    memory_bytes: Annotated[int, msgspec.Meta(ge=0, le=2**62)]
    threads: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] | None
    started_at: Timestamp
    agent_version: Annotated[str, msgspec.Meta(max_length=64)]
    language: Literal["python"]
    runtime_version: Annotated[str, msgspec.Meta(max_length=64)]
    framework: Annotated[str, msgspec.Meta(max_length=128)] | None
    period: Annotated[float, msgspec.Meta(ge=0.0, le=86400.0)]
    dropped: Dropped = msgspec.field(default_factory=Dropped)
    # Runtime metrics over the period; agents before them leave them out.
    gc_time: Annotated[float, msgspec.Meta(ge=0.0, le=86400.0, description="seconds in garbage collection")] | None = None
    gc_collections: Annotated[list[Count], msgspec.Meta(min_length=1, max_length=4)] | None = None
    loop_lag: Annotated[float, msgspec.Meta(ge=0.0, le=86400.0, description="event-loop lag, seconds")] | None = None
    db_pools: Annotated[list[DbPool], msgspec.Meta(max_length=MAX_DB_POOLS)] | None = None

    def __post_init__(self) -> None:
        check_time(self.time, "time")
        if self.started_at > self.time + FUTURE_WINDOW:
            fail("started_at", "started_at is after time")
        if self.gc_time is not None and self.gc_time > self.period + 1.0:
            fail("gc_time", "gc_time is longer than period")
        if self.db_pools and len({p.name for p in self.db_pools}) < len(self.db_pools):
            fail("db_pools", "db_pools names must be unique")


class Payload(Struct):
    """One harvest of one agent process."""

    v: Literal[1]
    batch_id: Hex32
    app: Name
    sent_at: Timestamp
    apdex_t: Annotated[float, msgspec.Meta(ge=0.001, le=60.0)]
    metrics: Annotated[list[Metric], msgspec.Meta(max_length=2000)] = []
    events: Annotated[list[Event], msgspec.Meta(max_length=2000)] = []
    events_seen: Annotated[int, msgspec.Meta(ge=0, le=10_000_000_000)] = 0
    traces: Annotated[list[TraceIn], msgspec.Meta(max_length=20)] = []
    errors: Annotated[list[ErrorIn], msgspec.Meta(max_length=100)] = []
    instance: Instance | None = None
    operations: Annotated[list[Operation], msgspec.Meta(max_length=MAX_OPERATIONS)] = []

    def __post_init__(self) -> None:
        check_time(self.sent_at, "sent_at")
        self._check_metrics()
        self._check_operations()
        events = self.events
        if events:
            now = time.time()
            lo, hi = now - PAST_WINDOW, now + FUTURE_WINDOW
            ends = [e.end for e in events]
            if min(ends) < lo or max(ends) > hi:
                i = next(i for i, t in enumerate(ends) if not lo <= t <= hi)
                check_time(ends[i], f"events[{i}].end")
        self._check_hex_ids()
        if self.events_seen < len(self.events):
            fail("events_seen", "events_seen must be at least the number of events")


    def _check_metrics(self) -> None:
        now = time.time()
        problem = Metric.problem
        for i, m in enumerate(self.metrics):
            broken = problem(m, now)
            if broken:
                fail(f"metrics[{i}].{broken[0]}", broken[1])

    def _check_operations(self) -> None:
        now = time.time()
        seen = set()
        for i, op in enumerate(self.operations):
            broken = op.problem(now)
            if broken:
                fail(f"operations[{i}].{broken[0]}", broken[1])
            key = (op.transaction, op.kind, op.service, op.operation, op.table, op.minute)
            if key in seen:
                fail(f"operations[{i}]", "operations must not repeat a (transaction, kind, service, operation, table, minute)")
            seen.add(key)

    def _ids(self) -> Iterator[tuple[str, str]]:
        """(path, id) of every hex id in the payload."""
        yield "batch_id", self.batch_id
        for i, e in enumerate(self.events):
            yield f"events[{i}].trace_id", e.trace_id
        for i, t in enumerate(self.traces):
            yield f"traces[{i}].trace_id", t.trace_id
            if t.parent_span_id is not None:
                yield f"traces[{i}].parent_span_id", t.parent_span_id
            for j, sp in enumerate(t.spans):
                yield f"traces[{i}].spans[{j}].id", sp.id
                if sp.parent is not None:
                    yield f"traces[{i}].spans[{j}].parent", sp.parent
        for i, err in enumerate(self.errors):
            if err.trace_id is not None:
                yield f"errors[{i}].trace_id", err.trace_id

    def _check_hex_ids(self) -> None:
        ids = [self.batch_id]
        ids += [e.trace_id for e in self.events]
        for t in self.traces:
            ids.append(t.trace_id)
            ids.append(t.parent_span_id or "")
            for sp in t.spans:
                ids.append(sp.id)
                ids.append(sp.parent or "")
        ids += [e.trace_id or "" for e in self.errors]
        # Deleting every non-hex byte leaves the joined ids as they were only if all are
        # hex: one C pass (a regex takes ~5x as long over the ~12 KB of a harvest's ids).
        joined = "".join(ids).encode("utf-8", "surrogatepass")
        if joined.translate(None, _NOT_HEX) != joined:
            for path, value in self._ids():
                if not _HEX.fullmatch(value):
                    fail(path, f"{path.rsplit('.', 1)[-1]} must be lowercase hexadecimal")


_decoder = msgspec.json.Decoder(Payload)


def decode_payload(raw: bytes) -> Payload:
    """Decode and validate JSON bytes; raises msgspec.ValidationError / DecodeError."""
    return _decoder.decode(raw)


def json_schema() -> dict[str, Any]:
    schema = msgspec.json.schema(Payload)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Pulse ingest payload, protocol v1"
    schema["description"] = (
        "POST /api/v1/ingest body (gzip JSON). Also: timestamps within the last 24 h and at most "
        "10 min ahead; metrics: errors <= count, min <= max <= sum, apdex adds up to count, minute a "
        "multiple of 60; sketch: base64 of the DDSketch encoding in docs/protocol-v1.md whose count "
        "equals count; events_seen >= len(events); operations: errors <= count, sum <= count x 86400, "
        "minute a multiple of 60, sketch as for metrics, each (transaction, kind, service, operation, table, "
        "minute) once."
    )
    return schema
