"""Seed telemetry through the pipeline's own writer (apm.rollup.apply_batch), with payloads
shaped like the agent's (docs/protocol-v1.md), so the pages read what production stores.
"""

import json
import random
import time
import uuid

from pulse_agent.sketch import DDSketch

from apm.downsample import downsample_hours
from apm.rollup import Queued, apply_batch

XSS = [
    "<script>window.__xss=1</script>",
    '<img src=x onerror="window.__xss=1">',
    "javascript:window.__xss=1",
    '</script><script>window.__xss=1</script>',
    "{{ 7|add:7 }}{% debug %}",
    '"}]}</script><script>window.__xss=1</script>',
    "'><svg onload=window.__xss=1>",
    "<img src=x onerror=alert(1)>",
]
XSS_ALL = " ".join(XSS)
# Names are at most 255 characters: a shorter mix for them.
XSS_SHORT = '<script>window.__xss=1</script><img src=x onerror="window.__xss=1"> {{ 7|add:7 }} "}]}</script>'

# name, type, calls per minute, mean seconds, error every n calls (0: none), segment shares
TRANSACTIONS = [
    ("shop.views.checkout", "web", 30, 0.25, 10, {"python": 0.3, "database": 0.4, "external": 0.25, "template": 0.05}),
    ("GET /items/{id}", "web", 120, 0.04, 0, {"python": 0.5, "database": 0.4, "template": 0.1}),
    ("shop.views.search", "web", 8, 0.6, 0, {"python": 0.2, "database": 0.75, "template": 0.05}),
    ("tasks.send_email", "background", 4, 1.2, 0, {"python": 0.2, "external": 0.8}),
]


def _durations(rng, n, mean):
    # Lognormal around the mean, like real response times.
    return [rng.lognormvariate(0, 0.6) * mean * 0.84 for _ in range(n)]


def _metric(rng, name, kind, minute, calls, mean, error_every, shares, apdex_t):
    values = _durations(rng, calls, mean)
    sketch = DDSketch()
    for v in values:
        sketch.add(v)
    errors = calls // error_every if error_every else 0
    satisfied = sum(1 for v in values[errors:] if v <= apdex_t)
    tolerating = sum(1 for v in values[errors:] if apdex_t < v <= 4 * apdex_t)
    total = sum(values)
    return {
        "name": name,
        "type": kind,
        "minute": minute,
        "count": calls,
        "errors": errors,
        "sum": total,
        "min": min(values),
        "max": max(values),
        "apdex": [satisfied, tolerating, calls - satisfied - tolerating],
        "segments": {k: total * share for k, share in shares.items()},
        "sketch": sketch.to_base64(),
    }


def trace_payload(name, start, duration, trace_id=None, parent_span_id=None, evil=False):
    text = XSS_ALL if evil else ""
    root = "a" * 16
    spans = [
        {"id": root, "parent": None, "kind": "python", "name": name, "offset": 0.0, "duration": duration, "attrs": {}},
        {
            "id": "b" * 16,
            "parent": root,
            "kind": "database",
            "name": "SELECT shop_item" + text,
            "offset": duration * 0.1,
            "duration": duration * 0.3,
            "attrs": {"sql": "SELECT * FROM shop_item WHERE id = ? AND note = ?" + text, "db.system": "postgresql"},
        },
        {
            "id": "c" * 16,
            "parent": root,
            "kind": "external",
            "name": "GET payments.example" + text,
            "offset": duration * 0.45,
            "duration": duration * 0.4,
            "attrs": {"url": ("javascript:window.__xss=1" if evil else "https://payments.example/charge"), "method": "POST"},
        },
        {
            "id": "d" * 16,
            "parent": "c" * 16,
            "kind": "function",
            "name": "retry" + text,
            "offset": duration * 0.5,
            "duration": duration * 0.1,
            "attrs": {"host": "payments.example" + text},
        },
    ]
    return {
        "trace_id": trace_id or uuid.uuid4().hex,
        "parent_span_id": parent_span_id,
        "name": name,
        "type": "web",
        "start": start,
        "duration": duration,
        "status": 500 if evil else 200,
        "error": evil,
        "spans": spans,
    }


def payload(app_name, metrics=(), events=(), traces=(), errors=(), instance=None, sent_at=None):
    return {
        "v": 1,
        "batch_id": uuid.uuid4().hex,
        "app": app_name,
        "sent_at": sent_at or time.time(),
        "apdex_t": 0.5,
        "metrics": list(metrics),
        "events": list(events),
        "events_seen": len(events),
        "traces": list(traces),
        "errors": list(errors),
        "instance": instance,
    }


def apply(org, app, payloads):
    entries = [
        Queued(
            entry_id=f"{i}-0",
            org_id=org.id,
            app_id=str(app.id),
            body=json.dumps(p).encode(),
            gzipped=False,
            received_at=time.time(),
        )
        for i, p in enumerate(payloads)
    ]
    return apply_batch(entries)


def instance(host, pid, t, cpu, memory):
    return {
        "host": host,
        "pid": pid,
        "time": t,
        "cpu_percent": cpu,
        "memory_bytes": memory,
        "threads": 8,
        "started_at": t - 3600,
        "agent_version": "0.1.0",
        "language": "python",
        "runtime_version": "3.11.7",
        "framework": "django 5.2",
        "period": 2.0,
        "dropped": {},
    }


def seed_app(org, app, minutes=90, now=None, evil=False, seed=1):
    """``minutes`` of traffic ending now: rollups, events, slow traces, errors, two instances.

    With ``evil``, every agent-supplied string also carries the XSS corpus. Returns facts
    the tests check against (transaction names, trace ids).
    """
    rng = random.Random(seed)
    now = now or time.time()
    last_minute = int(now // 60 * 60) - 60
    suffix = (" " + XSS_ALL) if evil else ""
    short = (" " + XSS_SHORT) if evil else ""
    txns = [(n + short, k, c, m, e, s) for n, k, c, m, e, s in TRANSACTIONS]
    payloads = []
    for i in range(minutes):
        minute = last_minute - i * 60
        metrics = [_metric(rng, n, k, minute, c, m, e, s, app.apdex_t) for n, k, c, m, e, s in txns]
        events = [
            {
                "name": n,
                "type": k,
                "end": minute + rng.uniform(0, 59),
                "duration": m,
                "status": 200,
                "error": False,
                "trace_id": uuid.uuid4().hex,
                "has_trace": False,
            }
            for n, k, c, m, e, s in txns[:2]
        ]
        inst = []
        for host, pid, base in (("web-1" + suffix, 101, 30.0), ("web-2" + suffix, 202, 45.0)):
            inst.append(instance(host, pid, minute + 30, base + rng.uniform(-5, 5), int(150e6 + pid * 1e5)))
        payloads.append(payload(app.name, metrics=metrics, events=events, instance=inst[0], sent_at=minute + 30))
        payloads.append(payload(app.name, instance=inst[1], sent_at=minute + 31))
    slow = [trace_payload(txns[0][0], last_minute - 60 * k + 5, 1.5 + k / 10, evil=evil) for k in range(3)]
    stack = [
        {"file": "shop/views.py" + suffix, "line": 12, "function": "checkout" + suffix, "code": "charge(card)" + suffix},
        {"file": "shop/payments.py", "line": 40, "function": "charge", "code": "raise ValueError(msg)"},
    ]
    errors = [
        {
            "class": ("ValueError" + suffix)[:255],
            "message": f"card {k} declined" + suffix,
            "stack": stack,
            "transaction": txns[0][0],
            "time": last_minute - 60 * k + 10,
            "trace_id": slow[0]["trace_id"],
        }
        for k in range(5)
    ]
    payloads.append(payload(app.name, traces=slow, errors=errors, sent_at=last_minute + 40))
    apply(org, app, payloads)
    # What beat does every minute: hour and day rows from the minutes.
    downsample_hours(org.id, {(last_minute - i * 60) // 3600 * 3600 for i in range(minutes)})
    return {"transactions": [t[0] for t in txns], "trace_ids": [t["trace_id"] for t in slow], "last_minute": last_minute}
