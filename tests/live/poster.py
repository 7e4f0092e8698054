"""A minimal agent stand-in: builds protocol-v1 payloads (contract/builders.py) and posts
them (tests/live, bench/live.py)."""

import gzip
import json
import random
import time
import urllib.error
import urllib.request
import uuid

from contract.builders import event, metric, payload as harvest

# Time per segment as shares of a metric's total duration.
SHARES = {"python": 0.6, "database": 0.4}


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
        end_at = round(min(now, minute + 59.9) - random.random() * 0.5, 3)
        # Live messages carry trace ids of traced events only.
        events.append(event(name, end_at, d, error, 500 if error else 200, trace_id=trace_id,
                            has_trace=bool(marker) and i == 0))
    # A name's errors are its first calls, as ``metric`` counts them.
    metrics = [
        metric(name, [d for d, _ in items], minute, errors=sum(1 for _, e in items if e), shares=SHARES)
        for name, items in by_name.items()
    ]
    return harvest(app_name, metrics, events)


def post(base_url, key, body, timeout=10):
    """POST one payload; returns the HTTP status (202 when accepted)."""
    return answer(base_url, key, body, timeout)[0]


def answer(base_url, key, body, timeout=10):
    """POST one payload; returns (HTTP status, the JSON reply)."""
    data = gzip.compress(json.dumps(body).encode())
    request = urllib.request.Request(
        base_url.rstrip("/") + "/api/v1/ingest",
        data=data,
        method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")
