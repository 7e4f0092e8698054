"""Load generator: many simulated agent processes posting realistic harvest payloads.

Each simulated process has its own host/pid and posts, per harvest, one protocol-v1
payload shaped like the agent's: 50 transaction names in ``metrics`` (exact
aggregates with real DDSketches), 200 sampled ``events``, 3 slow ``traces`` of up to
50 spans, 2 ``errors`` and one ``instance`` sample.

Payload contents are built once per process; each post gets a fresh batch id spliced
into a pre-compressed body (a byte-aligned deflate flush keeps the rest of the
gzip stream reusable), so the generator spends its CPU on sending, not on gzip.

Demo against a running server::

    python bench/loadgen.py --url http://127.0.0.1:8000 --key pulse_ik_... --app demo \\
        --processes 4 --interval 2 --duration 600

``bench/ingest.py`` imports this module for the benchmark.
"""

import argparse
import asyncio
import json
import random
import struct
import time
import uuid
import zlib
from urllib.parse import urlparse

try:
    from pulse_agent.sketch import DDSketch
except ImportError:  # run from a checkout without the agent installed
    import os
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "agent"))
    from pulse_agent.sketch import DDSketch

N_TRANSACTIONS = 50
N_EVENTS = 200
N_TRACES = 3
MAX_SPANS = 50
N_ERRORS = 2

_SEGMENTS = ("python", "database", "external", "template")


def metric(name, durs, minute, apdex_t=0.5, errors=0, type="web"):
    """One ``metrics`` entry: exact aggregates and a real DDSketch of ``durs`` (seconds).

    The first ``errors`` requests failed; a failed request counts as frustrated.
    """
    sketch = DDSketch()
    s = t = f = 0
    for k, d in enumerate(durs):
        sketch.add(d)
        if k < errors or d > 4 * apdex_t:
            f += 1
        elif d > apdex_t:
            t += 1
        else:
            s += 1
    total = sum(durs)
    shares = (0.4, 0.35, 0.2, 0.05)
    return {
        "name": name,
        "type": type,
        "minute": minute,
        "count": len(durs),
        "errors": errors,
        "sum": total,
        "min": min(durs),
        "max": max(durs),
        "apdex": [s, t, f],
        "segments": {k: total * w for k, w in zip(_SEGMENTS, shares)},
        "sketch": sketch.to_base64(),
    }


def instance(host, pid, now, cpu_percent, memory_bytes):
    """The ``instance`` sample of an agent process."""
    return {
        "host": host,
        "pid": pid,
        "time": now,
        "cpu_percent": cpu_percent,
        "memory_bytes": memory_bytes,
        "threads": 8,
        "started_at": now - 3600,
        "agent_version": "0.1.0",
        "language": "python",
        "runtime_version": "3.11.7",
        "framework": "django 5.2.3",
        "period": 2.0,
        "dropped": {"events": 0, "traces": 0, "errors": 0, "metrics": 0, "payloads": 0},
    }


def envelope(app, metrics, sent_at, apdex_t=0.5, events=(), events_seen=0, traces=(), errors=(), inst=None):
    """A protocol-v1 payload dict without its batch id."""
    return {
        "v": 1,
        "app": app,
        "sent_at": sent_at,
        "apdex_t": apdex_t,
        "metrics": list(metrics),
        "events": list(events),
        "events_seen": events_seen,
        "traces": list(traces),
        "errors": list(errors),
        "instance": inst,
    }


def transaction_names(n=N_TRANSACTIONS):
    names = ["shop.views.checkout", "shop.views.cart", "GET /items/{id}", "GET /search", "POST /api/orders"]
    k = 0
    while len(names) < n:
        names.append(f"shop.views.page_{k:02d}")
        k += 1
    return names[:n]


class Process:
    """One simulated app process: its identity, its transactions' behaviour, its payload template."""

    def __init__(self, app, index, rng=None, now=None, apdex_t=0.5, names=None, per_txn=(1, 12)):
        self.app = app
        self.rng = rng or random.Random(index)
        self.host = f"web-{index // 8 + 1}"
        self.pid = 1000 + index
        self.apdex_t = apdex_t
        self.names = names or transaction_names()
        self.per_txn = per_txn
        # Each transaction: a lognormal response time (median 10 ms .. 600 ms) and an error rate.
        r = random.Random(4242)  # the same behaviour in every process of the app
        self.behaviour = {n: (r.uniform(-4.6, -0.5), r.uniform(0.3, 1.0), r.choice([0, 0, 0.01, 0.05])) for n in self.names}
        self.rebuild(now)

    def duration(self, name):
        mu, sigma, _ = self.behaviour[name]
        return min(self.rng.lognormvariate(mu, sigma), 60.0)

    def payload(self, now=None, extra_metrics=()):
        """A payload dict (without batch_id) for the harvest ending at ``now``."""
        rng = self.rng
        now = now or time.time()
        minute = int(now // 60) * 60
        metrics = []
        for name in self.names:
            n = rng.randint(*self.per_txn)
            durs = [self.duration(name) for _ in range(n)]
            metrics.append(self.metric(name, durs, minute))
        metrics.extend(extra_metrics)
        events = []
        for _ in range(N_EVENTS):
            name = rng.choice(self.names)
            d = self.duration(name)
            err = rng.random() < self.behaviour[name][2]
            events.append(
                {
                    "name": name,
                    "type": "web",
                    "end": now - rng.uniform(0, 2.0),
                    "duration": d,
                    "status": 500 if err else 200,
                    "error": err,
                    "trace_id": uuid.UUID(int=rng.getrandbits(128)).hex,
                    "has_trace": False,
                }
            )
        traces = [self.trace(rng.choice(self.names), now) for _ in range(N_TRACES)]
        errors = [
            {
                "class": "builtins.ValueError",
                "message": f"invalid literal for int() with base 10: '{rng.randint(1, 10**6)}'",
                "stack": [
                    {"file": "django/core/handlers/base.py", "line": 197, "function": "_get_response",
                     "code": "response = wrapped_callback(request, *callback_args, **callback_kwargs)"},
                    {"file": "shop/views.py", "line": 40 + k, "function": "checkout", "code": "qty = int(raw)"},
                ],
                "transaction": "shop.views.checkout",
                "time": now - rng.uniform(0, 2.0),
                "trace_id": None,
            }
            for k in range(N_ERRORS)
        ]
        inst = instance(self.host, self.pid, now, rng.uniform(5, 80), rng.randint(80, 400) * 1_000_000)
        return envelope(self.app, metrics, now, self.apdex_t, events, N_EVENTS * 3, traces, errors, inst)

    def metric(self, name, durs, minute, type="web"):
        err_rate = self.behaviour.get(name, (0, 0, 0))[2]
        errors = sum(self.rng.random() < err_rate for _ in durs)
        return metric(name, durs, minute, self.apdex_t, errors, type)

    def trace(self, name, now):
        rng = self.rng
        duration = self.duration(name) * 5 + 0.5
        root = uuid.UUID(int=rng.getrandbits(128)).hex[:16]
        spans = [{"id": root, "parent": None, "kind": "python", "name": name, "offset": 0.0, "duration": duration,
                  "attrs": {}}]
        n = rng.randint(10, MAX_SPANS)
        for k in range(n - 1):
            kind = rng.choice(["database", "database", "external", "template", "function"])
            attrs = {"sql": "SELECT * FROM shop_item WHERE id = ?", "db.system": "postgresql"} if kind == "database" else {}
            spans.append({"id": uuid.UUID(int=rng.getrandbits(128)).hex[:16], "parent": root, "kind": kind,
                          "name": f"{kind} call {k}", "offset": duration * k / n, "duration": duration / n / 2,
                          "attrs": attrs})
        return {"trace_id": uuid.UUID(int=rng.getrandbits(128)).hex, "parent_span_id": None, "name": name,
                "type": "web", "start": now - duration - 1.0, "duration": duration, "status": 200, "error": False,
                "spans": spans}

    def rebuild(self, now=None, extra_metrics=()):
        """Build this process's payload and its reusable compressed body."""
        self.template = Body(self.payload(now, extra_metrics))
        return self.template


_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"


class Body:
    """A payload's gzip body into which a new batch id is spliced cheaply for every post."""

    def __init__(self, payload):
        rest = json.dumps({k: v for k, v in payload.items() if k != "batch_id"}, separators=(",", ":")).encode()
        assert rest.endswith(b"}")
        # The batch id goes last: the deflate stream and the CRC of everything before it
        # are computed once, and each post only compresses and checksums its last bytes.
        self.rest = rest[:-1] + b',"batch_id":"'
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.rest_deflated = c.compress(self.rest) + c.flush(zlib.Z_FULL_FLUSH)  # byte-aligned, not final
        self.rest_crc = zlib.crc32(self.rest)
        self.payload = payload
        self.events = len(payload["events"])
        self.transactions = sum(m["count"] for m in payload["metrics"])

    def make(self, batch_id=None):
        """(batch_id, gzip bytes) with a fresh batch id."""
        batch_id = batch_id or uuid.uuid4().hex
        tail = batch_id.encode() + b'"}'
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        end = c.compress(tail) + c.flush()  # the final block
        size = (len(self.rest) + len(tail)) & 0xFFFFFFFF
        crc = zlib.crc32(tail, self.rest_crc)
        return batch_id, b"".join((_GZIP_HEADER, self.rest_deflated, end, struct.pack("<II", crc, size)))


class Client:
    """A minimal keep-alive HTTP/1.1 client: one connection per simulated process, little CPU."""

    def __init__(self, url, key):
        u = urlparse(url)
        self.host, self.port = u.hostname, u.port or 80
        self.head = (
            f"POST /api/v1/ingest HTTP/1.1\r\nHost: {u.netloc}\r\nAuthorization: Bearer {key}\r\n"
            "Content-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: "
        ).encode()
        self.reader = self.writer = None

    async def post(self, body):
        """(status, response bytes, headers dict)."""
        for attempt in range(2):
            try:
                if self.writer is None:
                    self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
                self.writer.write(self.head + str(len(body)).encode() + b"\r\n\r\n" + body)
                head = await self.reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                status = int(lines[0].split(" ", 2)[1])
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                data = await self.reader.readexactly(int(headers.get("content-length", "0")))
                if headers.get("connection", "").lower() == "close":
                    await self.close()
                return status, data, headers
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close()
                if attempt:
                    raise

    async def close(self):
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except ConnectionError:
                pass
        self.reader = self.writer = None


async def run_process(proc, url, key, stop_at, interval, results, rebuild_every=None):
    """Post this process's payloads until ``stop_at`` (monotonic), every ``interval`` seconds
    (0: back to back). Appends (sent_monotonic, latency, status, events, transactions, batch_id)
    to results."""
    client = Client(url, key)
    # Real agents harvest out of phase with each other: start at a random point of the period.
    next_at = time.monotonic() + (proc.rng.uniform(0, interval) if interval else 0.0)
    posted = 0
    try:
        while True:
            now = time.monotonic()
            if now >= stop_at:
                break
            if interval and now < next_at:
                await asyncio.sleep(next_at - now)
            next_at += interval
            if rebuild_every and posted and posted % rebuild_every == 0:
                proc.rebuild()
            body = proc.template
            batch_id, data = body.make()
            t0 = time.monotonic()
            status, _, headers = await client.post(data)
            results.append((t0, time.monotonic() - t0, status, body.events, body.transactions, batch_id))
            posted += 1
            if status in (429, 503):
                await asyncio.sleep(float(headers.get("retry-after", "1")))
    finally:
        await client.close()


def run(coro):
    """Run the load on uvloop when it is installed (uvicorn's extra brings it): it shares
    the machine with what it measures, and uvloop's sockets cost about half the CPU."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="http://127.0.0.1:8000")
    ap.add_argument("--key", required=True)
    ap.add_argument("--app", default="demo")
    ap.add_argument("--processes", type=int, default=4)
    ap.add_argument("--interval", type=float, default=2.0, help="seconds between payloads per process (0: flat out)")
    ap.add_argument("--duration", type=float, default=60.0)
    args = ap.parse_args()
    procs = [Process(args.app, i) for i in range(args.processes)]
    results = []
    stop_at = time.monotonic() + args.duration

    async def go():
        await asyncio.gather(*(
            run_process(p, args.url, args.key, stop_at, args.interval, results, rebuild_every=10) for p in procs
        ))

    run(go())
    ok = sum(1 for r in results if r[2] == 202)
    print(f"posted {len(results)} payloads, {ok} accepted; statuses: "
          f"{sorted({r[2] for r in results})}")


if __name__ == "__main__":
    main()
