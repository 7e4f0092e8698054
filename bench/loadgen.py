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
import os
import random
import struct
import sys
import time
import uuid
import zlib
from urllib.parse import urlparse

# Run as a script, bench/ is on the path and the checkout's root may not be.
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
try:
    import pulse_agent  # noqa: F401
except ImportError:  # a checkout without the agent installed
    sys.path.insert(0, os.path.join(_ROOT, "agent"))

from contract import builders  # noqa: E402

N_TRANSACTIONS = 50
N_EVENTS = 200
N_TRACES = 3
MAX_SPANS = 50
N_ERRORS = 2

# Time per segment as shares of a metric's total duration.
SHARES = {"python": 0.4, "database": 0.35, "external": 0.2, "template": 0.05}


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
        """A payload dict for the harvest ending at ``now`` (``Body`` gives each post its own batch id)."""
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
            events.append(builders.event(name, now - rng.uniform(0, 2.0), d, err, 500 if err else 200,
                                         trace_id=uuid.UUID(int=rng.getrandbits(128)).hex))
        traces = [self.trace(rng.choice(self.names), now) for _ in range(N_TRACES)]
        errors = [
            builders.error(
                "builtins.ValueError",
                f"invalid literal for int() with base 10: '{rng.randint(1, 10**6)}'",
                now - rng.uniform(0, 2.0),
                stack=[
                    builders.frame("django/core/handlers/base.py", 197, "_get_response",
                                   "response = wrapped_callback(request, *callback_args, **callback_kwargs)"),
                    builders.frame("shop/views.py", 40 + k, "checkout", "qty = int(raw)"),
                ],
            )
            for k in range(N_ERRORS)
        ]
        inst = builders.instance(now, self.host, self.pid, rng.uniform(5, 80), rng.randint(80, 400) * 1_000_000)
        return builders.payload(self.app, metrics, events, traces, errors, inst, sent_at=now,
                                events_seen=N_EVENTS * 3, apdex_t=self.apdex_t)

    def metric(self, name, durs, minute, type="web"):
        err_rate = self.behaviour.get(name, (0, 0, 0))[2]
        errors = sum(self.rng.random() < err_rate for _ in durs)
        return builders.metric(name, durs, minute, self.apdex_t, errors, type, SHARES)

    def trace(self, name, now):
        rng = self.rng
        duration = self.duration(name) * 5 + 0.5
        root = uuid.UUID(int=rng.getrandbits(128)).hex[:16]
        spans = [builders.span(root, None, "python", name, 0.0, duration, {})]
        n = rng.randint(10, MAX_SPANS)
        for k in range(n - 1):
            kind = rng.choice(["database", "database", "external", "template", "function"])
            attrs = {"sql": "SELECT * FROM shop_item WHERE id = ?", "db.system": "postgresql"} if kind == "database" else {}
            spans.append(builders.span(uuid.UUID(int=rng.getrandbits(128)).hex[:16], root, kind, f"{kind} call {k}",
                                       duration * k / n, duration / n / 2, attrs))
        return builders.trace(name, now - duration - 1.0, duration, spans, uuid.UUID(int=rng.getrandbits(128)).hex)

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

    def __init__(self, url, key, path="/api/v1/ingest", content_type="application/json", encoding="gzip"):
        u = urlparse(url)
        self.host, self.port = u.hostname, u.port or 80
        self.head = (
            f"POST {path} HTTP/1.1\r\nHost: {u.netloc}\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: {content_type}\r\nContent-Encoding: {encoding}\r\nContent-Length: "
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
