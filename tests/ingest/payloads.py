"""Protocol v1 payloads for the pipeline tests: the contract's builders (contract/builders.py)
and what only these tests need (a small valid payload, request bodies and headers)."""

import gzip
import json
import random
import time

from contract.builders import error, event, instance, metric, operation, payload, trace

__all__ = ["body", "error", "event", "headers", "instance", "metric", "operation", "payload", "simple", "trace"]


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
