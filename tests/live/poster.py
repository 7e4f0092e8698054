"""A minimal agent stand-in: builds protocol-v1 payloads and posts them (tests/live, bench/live.py).

Standard library plus the agent's sketch, so a payload is exactly what an agent would send.
"""

import gzip
import json
import random
import time
import urllib.error
import urllib.request
import uuid

from pulse_agent.sketch import DDSketch


def payload(app_name, durations, errors=0, minute=None, names=("GET /items/{id}",), end=None, marker=None):
    """One harvest: ``durations`` (seconds) spread over ``names``; the first ``errors`` are errors.

    Every transaction is also a sampled event (ending at ``end`` or now); ``marker`` becomes the
    trace id of the first event, so a reader can spot this payload's event in a live message.
    """
    now = time.time() if end is None else end
    minute = int(now // 60 * 60) if minute is None else minute
    by_name = {}
    events = []
    for i, d in enumerate(durations):
        name = names[i % len(names)]
        error = i < errors
        by_name.setdefault(name, []).append((d, error))
        trace_id = marker if (i == 0 and marker) else uuid.uuid4().hex
        events.append(
            {
                "name": name,
                "type": "web",
                "end": round(min(now, minute + 59.9) - random.random() * 0.5, 3),
                "duration": d,
                "status": 500 if error else 200,
                "error": error,
                "trace_id": trace_id,
                "has_trace": bool(marker) and i == 0,  # live messages carry trace ids of traced events only
            }
        )
    metrics = []
    for name, items in by_name.items():
        sketch = DDSketch()
        for d, _ in items:
            sketch.add(d)
        ds = [d for d, _ in items]
        errs = sum(1 for _, e in items if e)
        satisfied = sum(1 for d, e in items if not e and d <= 0.5)
        tolerating = sum(1 for d, e in items if not e and 0.5 < d <= 2.0)
        metrics.append(
            {
                "name": name,
                "type": "web",
                "minute": minute,
                "count": len(items),
                "errors": errs,
                "sum": sum(ds),
                "min": min(ds),
                "max": max(ds),
                "apdex": [satisfied, tolerating, len(items) - satisfied - tolerating],
                "segments": {"python": sum(ds) * 0.6, "database": sum(ds) * 0.4},
                "sketch": sketch.to_base64(),
            }
        )
    return {
        "v": 1,
        "batch_id": uuid.uuid4().hex,
        "app": app_name,
        "sent_at": time.time(),
        "apdex_t": 0.5,
        "metrics": metrics,
        "events": events,
        "events_seen": len(events),
    }


def post(base_url, key, body, timeout=10):
    """POST one payload; returns the HTTP status (202 when accepted)."""
    data = gzip.compress(json.dumps(body).encode())
    request = urllib.request.Request(
        base_url.rstrip("/") + "/api/v1/ingest",
        data=data,
        method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
