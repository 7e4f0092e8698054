"""Protocol v1 payloads with known contents, as an agent sends them, for tests, seeds and
benchmarks (tests/, tests/live/poster.py, bench/loadgen.py, bench/alerting.py).

Each function returns the JSON-ready dict of one part of a payload (docs/protocol-v1.md),
with real DDSketches from the agent's own implementation. ``entry`` turns a payload into
the stream entry a worker reads, through what ingest does to an accepted one: schema
decode, sketch check, queued pack. It lives in the contract, beside the schema it must
satisfy, so a change of the protocol and of its examples go together; the tests, and
bench/ run as scripts with the checkout's root on the path, import it alike.
"""

import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec
from pulse_agent.sketch import DDSketch

from contract import queued, schema, stream

Json = dict[str, Any]

# Time per segment as shares of a metric's total duration.
SHARES = {"python": 0.5, "database": 0.3, "external": 0.2}


def metric(
    name: str,
    durations: Sequence[float],
    minute: int,
    apdex_t: float = 0.5,
    errors: int = 0,
    type: str = "web",
    shares: dict[str, float] = SHARES,
) -> Json:
    """An exact ``metrics`` entry for ``durations`` (seconds) with a real DDSketch.

    The first ``errors`` requests failed; a failed request counts as frustrated."""
    sketch = DDSketch()
    s = t = f = 0
    for n, d in enumerate(durations):
        sketch.add(d)
        if n < errors or d > 4 * apdex_t:
            f += 1
        elif d > apdex_t:
            t += 1
        else:
            s += 1
    total = sum(durations)
    return {
        "name": name,
        "type": type,
        "minute": minute,
        "count": len(durations),
        "errors": errors,
        "sum": total,
        "min": min(durations),
        "max": max(durations),
        "apdex": [s, t, f],
        "segments": {k: total * share for k, share in shares.items()},
        "sketch": sketch.to_base64(),
    }


def event(
    name: str,
    end: float,
    duration: float,
    error: bool = False,
    status: int | None = 200,
    type: str = "web",
    trace_id: str | None = None,
    has_trace: bool = False,
) -> Json:
    """One sampled transaction of ``events``."""
    return {
        "name": name,
        "type": type,
        "end": end,
        "duration": duration,
        "status": status,
        "error": error,
        "trace_id": trace_id or uuid.uuid4().hex,
        "has_trace": has_trace,
    }


def span(
    id: str, parent: str | None, kind: str, name: str, offset: float, duration: float, attrs: dict | None = None
) -> Json:
    """One span of a trace (``attrs`` left out when None, as agents leave it out when empty)."""
    out: Json = {"id": id, "parent": parent, "kind": kind, "name": name, "offset": offset, "duration": duration}
    if attrs is not None:
        out["attrs"] = attrs
    return out


def trace(
    name: str,
    start: float,
    duration: float,
    spans: int | list[Json] = 3,
    trace_id: str | None = None,
    parent_span_id: str | None = None,
    status: int | None = 200,
    error: bool = False,
) -> Json:
    """A slow-trace sample with ``spans``: those given, or that many (a root and queries under it)."""
    if isinstance(spans, int):
        root = uuid.uuid4().hex[:16]
        sql = {"sql": "SELECT * FROM shop_item WHERE id = ?", "db.system": "postgresql"}
        spans = [span(root, None, "python", name, 0.0, duration)] + [
            span(uuid.uuid4().hex[:16], root, "database", "SELECT shop_item", duration * n / spans,
                 duration / spans / 2, sql)
            for n in range(spans - 1)
        ]
    return {
        "trace_id": trace_id or uuid.uuid4().hex,
        "parent_span_id": parent_span_id,
        "name": name,
        "type": "web",
        "start": start,
        "duration": duration,
        "status": status,
        "error": error,
        "spans": spans,
    }


def frame(file: str, line: int | None, function: str, code: str | None = None) -> Json:
    return {"file": file, "line": line, "function": function, "code": code}


def error(
    cls: str,
    message: str,
    when: float,
    transaction: str | None = "shop.views.checkout",
    stack: list[Json] | None = None,
    trace_id: str | None = None,
) -> Json:
    """An ``errors`` entry (by default raised in a Django view)."""
    if stack is None:
        stack = [
            frame("django/core/handlers/base.py", 197, "_get_response", "response = x()"),
            frame("shop/views.py", 42, "checkout", "raise ValueError(msg)"),
        ]
    return {"class": cls, "message": message, "stack": stack, "transaction": transaction, "time": when,
            "trace_id": trace_id}


def instance(
    when: float, host: str = "web-1", pid: int = 4242, cpu: float = 12.5, memory: int = 100_000_000
) -> Json:
    """The ``instance`` sample of an agent process at ``when``."""
    return {
        "host": host,
        "pid": pid,
        "time": when,
        "cpu_percent": cpu,
        "memory_bytes": memory,
        "threads": 8,
        "started_at": when - 3600,
        "agent_version": "0.1.0",
        "language": "python",
        "runtime_version": "3.11.7",
        "framework": "django 5.2.3",
        "period": 2.0,
        "dropped": {"events": 0, "traces": 0, "errors": 0, "metrics": 0, "payloads": 0},
    }


def operation(
    transaction: str,
    durations: Sequence[float],
    minute: int,
    kind: str = "database",
    service: str = "postgresql",
    operation: str = "SELECT",
    table: str = "",
    errors: int = 0,
) -> Json:
    """An ``operations`` entry for calls lasting ``durations`` (seconds), the first
    ``errors`` of them failed."""
    sketch = DDSketch()
    for d in durations:
        sketch.add(d)
    return {
        "transaction": transaction,
        "kind": kind,
        "service": service,
        "operation": operation,
        "table": table,
        "minute": minute,
        "count": len(durations),
        "errors": errors,
        "sum": sum(durations),
        "sketch": sketch.to_base64(),
    }


def payload(
    app: str = "shop",
    metrics: Iterable[Json] = (),
    events: Iterable[Json] = (),
    traces: Iterable[Json] = (),
    errors: Iterable[Json] = (),
    inst: Json | None = None,
    batch_id: str | None = None,
    sent_at: float | None = None,
    events_seen: int | None = None,
    apdex_t: float = 0.5,
    operations: Iterable[Json] = (),
) -> Json:
    """One harvest of one agent process (``events_seen``: by default, the events sent)."""
    events = list(events)
    extra = {"operations": list(operations)} if operations else {}
    return extra | {
        "v": 1,
        "batch_id": batch_id or uuid.uuid4().hex,
        "app": app,
        "sent_at": sent_at or time.time(),
        "apdex_t": apdex_t,
        "metrics": list(metrics),
        "events": events,
        "events_seen": len(events) if events_seen is None else events_seen,
        "traces": list(traces),
        "errors": list(errors),
        "instance": inst,
    }


def entry(org_id: int, app_id: uuid.UUID | str, p: Json, entry_id: str = "0-0") -> stream.Entry:
    """The stream entry of payload ``p`` as ingest would queue it for this organisation
    and app; raises ValueError naming the problem when ingest would refuse ``p``."""
    try:
        decoded = schema.decode_payload(msgspec.json.encode(p))
    except msgspec.ValidationError as exc:
        raise ValueError(f"invalid payload: {exc}") from None
    sketches = queued.check_sketches(decoded.metrics)  # raises BadSketch, a ValueError
    op_sketches = queued.check_sketches(decoded.operations)
    return stream.Entry(entry_id, org_id, str(app_id), queued.pack(decoded, sketches, op_sketches), time.time())
