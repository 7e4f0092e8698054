"""Seed telemetry through the pipeline's own writer (apm.rollup.apply_batch), with payloads
as the agent sends them (contract/builders.py) queued as ingest queues them, so the pages
read what production stores.
"""

import random
import time

from apm.downsample import downsample_hours
from apm.rollup import apply_batch
from contract.builders import entry, error, event, frame, instance, metric, payload, span, trace

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
XSS_SHORT = (
    '<script>window.__xss=1</script><img src=x onerror="window.__xss=1"> {{ 7|add:7 }} "}]}</script>'
    "'><svg onload=window.__xss=1>"
)

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
    errors = calls // error_every if error_every else 0
    return metric(name, _durations(rng, calls, mean), minute, apdex_t, errors, kind, shares)


def trace_payload(name, start, duration, trace_id=None, parent_span_id=None, evil=False):
    # The corpus whole where the protocol allows that much text (attributes), else its short mix.
    text, long_text = (XSS_SHORT, XSS_ALL) if evil else ("", "")
    root = "a" * 16
    spans = [
        span(root, None, "python", name, 0.0, duration, {}),
        span("b" * 16, root, "database", "SELECT shop_item" + text, duration * 0.1, duration * 0.3,
             {"sql": "SELECT * FROM shop_item WHERE id = ? AND note = ?" + long_text, "db.system": "postgresql"}),
        span("c" * 16, root, "external", "GET payments.example" + text, duration * 0.45, duration * 0.4,
             {"url": ("javascript:window.__xss=1" if evil else "https://payments.example/charge"), "method": "POST"}),
        span("d" * 16, "c" * 16, "function", "retry" + text, duration * 0.5, duration * 0.1,
             {"host": "payments.example" + long_text}),
    ]
    return trace(name, start, duration, spans, trace_id, parent_span_id, status=500 if evil else 200, error=evil)


def apply(org, app, payloads):
    """Apply ``payloads`` (agent dicts) as one batch of entries queued for ``app``."""
    return apply_batch([entry(org.id, app.id, p, f"{i}-0") for i, p in enumerate(payloads)])


def seed_app(org, app, minutes=90, now=None, evil=False, seed=1):
    """``minutes`` of traffic ending now: rollups, events, slow traces, errors, two instances.

    With ``evil``, every agent-supplied string also carries the XSS corpus. Returns facts
    the tests check against (transaction names, trace ids).
    """
    rng = random.Random(seed)
    now = now or time.time()
    last_minute = int(now // 60 * 60) - 60
    # The corpus whole where the protocol allows that much text, else its short mix.
    suffix = (" " + XSS_ALL) if evil else ""
    short = (" " + XSS_SHORT) if evil else ""
    txns = [(n + short, k, c, m, e, s) for n, k, c, m, e, s in TRANSACTIONS]
    payloads = []
    for i in range(minutes):
        minute = last_minute - i * 60
        metrics = [_metric(rng, n, k, minute, c, m, e, s, app.apdex_t) for n, k, c, m, e, s in txns]
        events = [event(n, minute + rng.uniform(0, 59), m, type=k) for n, k, c, m, e, s in txns[:2]]
        inst = []
        for host, pid, base in (("web-1" + short, 101, 30.0), ("web-2" + short, 202, 45.0)):
            sample = instance(minute + 30, host, pid, base + rng.uniform(-5, 5), int(150e6 + pid * 1e5))
            sample.update(gc_time=rng.uniform(0, 0.05), gc_collections=[rng.randint(10, 40), rng.randint(0, 4), 0],
                          loop_lag=rng.uniform(0, 0.02), db_pools=[{"name": "django:default" + short, "open": 3,
                                                                    "in_use": rng.randint(0, 3), "max": 4}])
            inst.append(sample)
        payloads.append(payload(app.name, metrics=metrics, events=events, inst=inst[0], sent_at=minute + 30))
        payloads.append(payload(app.name, inst=inst[1], sent_at=minute + 31))
    slow = [trace_payload(txns[0][0], last_minute - 60 * k + 5, 1.5 + k / 10, evil=evil) for k in range(3)]
    stack = [
        frame("shop/views.py" + suffix, 12, "checkout" + short, "charge(card)" + suffix),
        frame("shop/payments.py", 40, "charge", "raise ValueError(msg)"),
    ]
    errors = [
        error(("ValueError" + suffix)[:255], f"card {k} declined" + suffix, last_minute - 60 * k + 10, txns[0][0],
              stack, slow[0]["trace_id"])
        for k in range(5)
    ]
    payloads.append(payload(app.name, traces=slow, errors=errors, sent_at=last_minute + 40))
    apply(org, app, payloads)
    # What beat does every minute: hour and day rows from the minutes.
    downsample_hours(org.id, {(last_minute - i * 60) // 3600 * 3600 for i in range(minutes)})
    return {"transactions": [t[0] for t in txns], "trace_ids": [t["trace_id"] for t in slow], "last_minute": last_minute}
