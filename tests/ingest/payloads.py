"""Building protocol v1 payloads with known contents for the pipeline tests."""

import gzip
import json
import random
import time
import uuid

from pulse_agent.sketch import DDSketch


def metric(name, durations, minute, apdex_t=0.5, errors=0, type="web", segments=None):
    """An exact metrics[] entry for the given durations (the first ``errors`` count as errors)."""
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
        "segments": segments or {"python": total * 0.5, "database": total * 0.3, "external": total * 0.2},
        "sketch": sketch.to_base64(),
    }


def event(name, end, duration, error=False, status=200, type="web"):
    return {
        "name": name,
        "type": type,
        "end": end,
        "duration": duration,
        "status": status,
        "error": error,
        "trace_id": uuid.uuid4().hex,
        "has_trace": False,
    }


def trace(name, start, duration, spans=3):
    root = uuid.uuid4().hex[:16]
    out = [{"id": root, "parent": None, "kind": "python", "name": name, "offset": 0.0, "duration": duration}]
    for n in range(spans - 1):
        out.append(
            {
                "id": uuid.uuid4().hex[:16],
                "parent": root,
                "kind": "database",
                "name": "SELECT shop_item",
                "offset": duration * n / spans,
                "duration": duration / spans / 2,
                "attrs": {"sql": "SELECT * FROM shop_item WHERE id = ?", "db.system": "postgresql"},
            }
        )
    return {
        "trace_id": uuid.uuid4().hex,
        "parent_span_id": None,
        "name": name,
        "type": "web",
        "start": start,
        "duration": duration,
        "status": 200,
        "error": False,
        "spans": out,
    }


def error(cls, message, when, transaction="shop.views.checkout", function="checkout"):
    return {
        "class": cls,
        "message": message,
        "stack": [
            {"file": "django/core/handlers/base.py", "line": 197, "function": "_get_response", "code": "response = x()"},
            {"file": "shop/views.py", "line": 42, "function": function, "code": "raise ValueError(msg)"},
        ],
        "transaction": transaction,
        "time": when,
        "trace_id": None,
    }


def instance(when, host="web-1", pid=4242, cpu=12.5, memory=100_000_000):
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


def payload(app="shop", metrics=(), events=(), traces=(), errors=(), inst=None, batch_id=None, sent_at=None):
    return {
        "v": 1,
        "batch_id": batch_id or uuid.uuid4().hex,
        "app": app,
        "sent_at": sent_at or time.time(),
        "apdex_t": 0.5,
        "metrics": list(metrics),
        "events": list(events),
        "events_seen": len(events),
        "traces": list(traces),
        "errors": list(errors),
        "instance": inst,
    }


def simple(app="shop", minute=None, name="shop.views.checkout", n=10, seed=1, **kw):
    """A small valid payload: n lognormal transactions of one name in one minute."""
    rng = random.Random(seed)
    minute = minute or (int(time.time()) // 60 * 60 - 60)
    durations = [rng.lognormvariate(-2.5, 1.0) for _ in range(n)]
    return payload(
        app,
        metrics=[metric(name, durations, minute)],
        events=[event(name, minute + 1 + i, d) for i, d in enumerate(durations[:5])],
        **kw,
    )


def body(p, compress=True):
    raw = json.dumps(p).encode()
    return gzip.compress(raw) if compress else raw


def headers(key, gzip_encoded=True):
    h = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    if gzip_encoded:
        h["HTTP_CONTENT_ENCODING"] = "gzip"
    return h
