"""OTLP benchmark: OpenTelemetry-shaped span batches through the real server and workers.

Starts the platform as bench/ingest.py does (its helpers: uvicorn with the ASGI fast path,
a Celery worker running the stream consumer, a dedicated database), then posts OTLP/HTTP
protobuf requests as the SDKs' batch span processors send them: 512 spans a request
(OTEL_BSP_MAX_EXPORT_BATCH_SIZE's default), 64 traces of 8 spans each (a SERVER entry
span with http.route, 3 database spans with SQL, 1 external call, 3 internal spans),
50 routes, 2 % errors, a few slow.

Prints, for one run:
  - spans/s accepted and applied end to end (posted → committed in Postgres);
  - POST latency p50/p99, freshness (200 → visible in the query layer) p50/p95;
  - CPU microseconds per span by role (web, workers, Postgres, Redis).

    .venv/bin/python bench/otlp.py [--duration 20] [--clients 16] [--rate N]

Two phases as bench/ingest.py's: capacity (every client posts back to back), then
latency (open loop at 80 % of that capacity, or --rate requests/s).
Figures, not pass/fail.
"""

import argparse
import asyncio
import importlib.util
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
_spec = importlib.util.spec_from_file_location("bench_ingest", ROOT / "bench" / "ingest.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)  # sets the bench database, Redis and stream in the environment
loadgen = bench.loadgen

SPANS_PER_TRACE = 8
TRACES_PER_REQUEST = 64
SPANS_PER_REQUEST = SPANS_PER_TRACE * TRACES_PER_REQUEST
ROUTES = [f"/api/v1/resource{i}/{{id}}" for i in range(50)]


def build_request(app_name, rng, now):
    """One export request's protobuf bytes."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
    from opentelemetry.proto.trace.v1 import trace_pb2

    def kv(key, value):
        v = AnyValue(int_value=value) if isinstance(value, int) else AnyValue(string_value=value)
        return KeyValue(key=key, value=v)

    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.extend([kv("service.name", app_name), kv("telemetry.sdk.language", "python")])
    spans = rs.scope_spans.add().spans
    for _ in range(TRACES_PER_REQUEST):
        trace_id = rng.randbytes(16)
        entry_id = rng.randbytes(8)
        duration = min(rng.lognormvariate(-3.0, 0.8), 5.0)
        if rng.random() < 0.005:
            duration = rng.uniform(2.5, 4.0)  # slow: kept as traces
        start = now - 5 - duration
        error = rng.random() < 0.02
        route = rng.choice(ROUTES)
        s = spans.add(trace_id=trace_id, span_id=entry_id, kind=trace_pb2.Span.SPAN_KIND_SERVER,
                      name=f"GET {route}", start_time_unix_nano=int(start * 1e9),
                      end_time_unix_nano=int((start + duration) * 1e9), flags=0x100)
        s.attributes.extend([kv("http.request.method", "GET"), kv("http.route", route),
                             kv("http.response.status_code", 500 if error else 200), kv("url.path", route),
                             kv("server.address", "shop.example.com"), kv("user_agent.original", "bench")])
        if error:
            s.status.code = trace_pb2.Status.STATUS_CODE_ERROR
        step = duration / (SPANS_PER_TRACE + 1)
        for j in range(SPANS_PER_TRACE - 1):
            t0 = start + step * (j + 0.5)
            child = spans.add(trace_id=trace_id, span_id=rng.randbytes(8), parent_span_id=entry_id,
                              start_time_unix_nano=int(t0 * 1e9), end_time_unix_nano=int((t0 + step) * 1e9),
                              flags=0x100)
            if j < 3:
                child.kind, child.name = trace_pb2.Span.SPAN_KIND_CLIENT, "SELECT shop.items"
                child.attributes.extend([kv("db.system.name", "postgresql"), kv("db.namespace", "shop"),
                                         kv("db.query.text", f"SELECT * FROM items WHERE id = {rng.randint(1, 10**6)}")])
            elif j == 3:
                child.kind, child.name = trace_pb2.Span.SPAN_KIND_CLIENT, "GET"
                child.attributes.extend([kv("http.request.method", "GET"), kv("server.address", "api.example.com"),
                                         kv("url.full", "https://api.example.com/prices"),
                                         kv("http.response.status_code", 200)])
            else:
                child.kind, child.name = trace_pb2.Span.SPAN_KIND_INTERNAL, f"compute.step{j}"
    return req.SerializeToString()


def unique(body, n):
    """``body`` with an unknown top-level field (15, varint ``n``) the receiver ignores: each
    post is a different request (an identical one would count once)."""
    out = bytearray(body)
    out.append(15 << 3)
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def otlp_client(url, key):
    return loadgen.Client(url, key, path="/v1/traces", content_type="application/x-protobuf", encoding="identity")


async def post_loop(url, key, template, stop_at, interval, results, counter):
    client = otlp_client(url, key)
    next_at = time.monotonic() + (random.uniform(0, interval) if interval else 0.0)
    try:
        while time.monotonic() < stop_at:
            if interval:
                now = time.monotonic()
                if now < next_at:
                    await asyncio.sleep(next_at - now)
                next_at += interval
            counter[0] += 1
            body = unique(template, counter[0])
            t0 = time.monotonic()
            status, _, headers = await client.post(body)
            results.append((t0, time.monotonic() - t0, status))
            if status in (429, 503):
                await asyncio.sleep(float(headers.get("retry-after", "1")))
    finally:
        await client.close()


def probe_poster(url, key, app_name, accepted):
    """A post_probe for bench.probe_freshness: one span named ``name``; counts the accepted in ``accepted``."""
    client = otlp_client(url, key)
    rng = random.Random(7)

    async def post(name, now):
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
        from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

        req = ExportTraceServiceRequest()
        rs = req.resource_spans.add()
        rs.resource.attributes.append(KeyValue(key="service.name", value=AnyValue(string_value=app_name)))
        rs.scope_spans.add().spans.add(trace_id=rng.randbytes(16), span_id=rng.randbytes(8), kind=2, name=name,
                                       start_time_unix_nano=int((now - 0.01) * 1e9), end_time_unix_nano=int(now * 1e9))
        status, _, _ = await client.post(req.SerializeToString())
        accepted[0] += status == 200
        return status == 200

    return post, client


def run_phase(url, key, org, app, r, templates, seconds, rate, probe=True):
    base_applied = bench.applied_count(org)
    results, freshness = [], []
    interval = len(templates) / rate if rate else 0.0
    t_start = time.monotonic()
    stop_at = t_start + seconds
    counter = [int(time.time() * 1000)]
    probes = [0]

    async def load():
        jobs = [post_loop(url, key, t, stop_at, interval, results, counter) for t in templates]
        probe_client = None
        if probe:
            post, probe_client = probe_poster(url, key, app.name, probes)
            jobs.append(bench.probe_freshness(url, key, org, app, stop_at, freshness, post_probe=post))
        try:
            await asyncio.gather(*jobs)
        finally:
            if probe_client is not None:
                await probe_client.close()

    loadgen.run(load())
    t_posted = time.monotonic()
    accepted = [x for x in results if x[2] == 200]
    while (r.xlen(bench.STREAM) or r.xpending(bench.STREAM, "rollup")["pending"]) and time.monotonic() - t_posted < 120:
        time.sleep(0.05)
    t_applied = time.monotonic()
    applied = bench.applied_count(org) - base_applied - probes[0]
    statuses = {}
    for x in results:
        statuses[x[2]] = statuses.get(x[2], 0) + 1
    elapsed = t_applied - t_start
    return {
        "posted": len(results), "accepted": len(accepted), "statuses": statuses, "applied": applied,
        "post_seconds": t_posted - t_start, "elapsed": elapsed, "drain": t_applied - t_posted,
        "spans_accepted_per_s": len(accepted) * SPANS_PER_REQUEST / (t_posted - t_start),
        "spans_applied_per_s": len(accepted) * SPANS_PER_REQUEST / elapsed,
        "lat": [x[1] * 1000 for x in accepted], "fresh": [x * 1000 for x in freshness],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=20.0, help="seconds of load per phase")
    ap.add_argument("--clients", type=int, default=16, help="simulated SDK exporters (connections)")
    ap.add_argument("--rate", type=float, default=0.0, help="requests/s of the latency phase (default: 80%% of capacity)")
    cores = os.cpu_count() or 2
    half_cores = cores // 2 if cores > 3 else 1
    ap.add_argument("--web-workers", type=int, default=half_cores)
    ap.add_argument("--worker-processes", type=int, default=half_cores)
    args = ap.parse_args()

    print(f"machine: {os.cpu_count()} cores, reference loop {bench.machine_speed():.2f} ms (lower is faster)", flush=True)
    bench.setup_database()
    import redis

    r = redis.Redis.from_url(bench.REDIS_URL)
    r.delete(bench.STREAM, f"{bench.STREAM}:dead")
    org, app, key = bench.make_tenant()
    rng = random.Random(1)
    now = time.time()
    templates = [build_request(app.name, rng, now) for _ in range(args.clients)]
    print(f"{args.clients} request templates of {SPANS_PER_REQUEST} spans, {len(templates[0]) / 1024:.0f} KB protobuf each",
          flush=True)
    port = bench.free_port()
    url = f"http://127.0.0.1:{port}"
    log_dir = Path(os.environ.get("BENCH_LOG_DIR", "/tmp"))
    log_dir.mkdir(parents=True, exist_ok=True)
    web_log = open(log_dir / "pulse-bench-otlp-web.log", "w")
    worker_log = open(log_dir / "pulse-bench-otlp-worker.log", "w")
    web = bench.start([sys.executable, "-m", "uvicorn", "pulse.asgi:application", "--host", "127.0.0.1", "--port",
                       str(port), "--workers", str(args.web_workers), "--no-access-log", "--log-level", "warning"], web_log)
    worker = bench.start([sys.executable, "-m", "celery", "-A", "pulse", "worker", "-l", "WARNING",
                          f"--concurrency={args.worker_processes}", "--without-heartbeat", "--without-gossip",
                          "--without-mingle", "-Q", "bench-none"], worker_log)
    try:
        bench.wait_http(port)
        run_phase(url, key, org, app, r, templates, 1.0, len(templates), probe=False)  # warm-up: caches, names

        print(f"phase 1, capacity: {args.clients} clients posting back to back for {args.duration:.0f} s ...", flush=True)
        cpu0 = bench.cpu_snapshot(web, worker)
        cap = run_phase(url, key, org, app, r, templates, args.duration, 0.0)
        cpu1 = bench.cpu_snapshot(web, worker)
        rate = args.rate or max(1.0, 0.8 * cap["accepted"] / cap["elapsed"])
        print(f"phase 2, latency: {rate:.1f} requests/s (open loop) for {args.duration:.0f} s ...", flush=True)
        lat = run_phase(url, key, org, app, r, templates, args.duration, rate)
        dead = r.xlen(f"{bench.STREAM}:dead")

        print()
        for name, ph in (("capacity (back to back)", cap), (f"latency ({rate:.1f} requests/s offered)", lat)):
            print(f"{name}: posted {ph['posted']} in {ph['post_seconds']:.1f} s, statuses {ph['statuses']}; "
                  f"applied {ph['applied']} (stream drained {ph['drain']:.1f} s after the last post)")
            if ph["applied"] != ph["accepted"]:
                print(f"  NOT APPLIED: {ph['accepted'] - ph['applied']} accepted requests")
            print(f"  spans/s accepted:                {ph['spans_accepted_per_s']:10.0f}")
            print(f"  spans/s applied end to end:      {ph['spans_applied_per_s']:10.0f}")
            print(f"  POST latency p50 / p99:          {bench.pct(ph['lat'], 0.5):8.1f} ms / {bench.pct(ph['lat'], 0.99):.1f} ms")
            print(f"  freshness 200→visible p50 / p95: {bench.pct(ph['fresh'], 0.5):8.0f} ms / "
                  f"{bench.pct(ph['fresh'], 0.95):.0f} ms  ({len(ph['fresh'])} probes)")
        print(f"dead-lettered entries: {dead}")
        spans = max(cap["accepted"] * SPANS_PER_REQUEST, 1)
        print("CPU per span in the capacity phase (µs; the machine is shared, so this is the cost):")
        total = 0.0
        for part in cpu0:
            us = (cpu1[part] - cpu0[part]) * 1e6 / spans
            if not part.startswith("load"):
                total += us
            print(f"  {part:32s} {us:6.2f}")
        print(f"  {'server side in all':32s} {total:6.2f}  -> {2e6 / total:.0f} spans/s on 2 dedicated cores")
    finally:
        bench.stop(web)
        bench.stop(worker)
        r.delete(bench.STREAM, f"{bench.STREAM}:dead")
        web_log.close()
        worker_log.close()


if __name__ == "__main__":
    main()
