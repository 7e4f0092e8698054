"""Overhead of the Pulse agent on a Django app, driven in-process through its WSGI
handler (no network). Prints figures; asserts nothing.

    python bench/agent_overhead.py [--rounds 5] [--requests 2000]
    python bench/agent_overhead.py --instructions 1000   # deterministic, needs valgrind

Views: a trivial view, a view running three SQLite queries, a template render.
Each mode (without / with the agent) runs in a fresh process; the rounds
interleave the modes and the figures are medians over rounds. The main figure is
process CPU time per request (it includes the agent's harvest thread, which folds the
transactions the requests buffered, and is less
disturbed by other load on the machine than wall time, which is printed too). The agent posts to
a local stdlib sink started by this script, as it would to Pulse.
Also: the agent's memory at steady state (RSS with minus without, same workload)
and the CPU used by the harvest thread at a paced 1,000 requests/s.
"""

import argparse
import gzip
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
AGENT_DIR = os.path.join(os.path.dirname(HERE), "agent")
VIEWS = ("trivial", "three_queries", "template")
KEY = "pulse_ik_" + "B3nchM4rk0" * 4

# -- the Django app (child process) ---------------------------------------------------


def setup_django(db_path):
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=[
            "django.middleware.security.SecurityMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.clickjacking.XFrameOptionsMiddleware",
        ],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": db_path, "CONN_MAX_AGE": None}},
        TEMPLATES=[{
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "OPTIONS": {"loaders": [("django.template.loaders.locmem.Loader", {
                "page.html": "<h1>{{ title }}</h1><ul>{% for i in items %}<li>{{ i }}</li>{% endfor %}</ul>",
            })]},
        }],
        USE_TZ=True,
    )
    django.setup()
    from django.db import connection

    with connection.cursor() as c:
        c.execute("CREATE TABLE IF NOT EXISTS item (id INTEGER PRIMARY KEY, name TEXT, price INTEGER)")
        c.execute("DELETE FROM item")
        for i in range(50):
            c.execute("INSERT INTO item (name, price) VALUES (%s, %s)", ["item %d" % i, i * 10])


def trivial(request):
    from django.http import HttpResponse

    return HttpResponse("ok")


def three_queries(request):
    from django.db import connection
    from django.http import HttpResponse

    with connection.cursor() as c:
        c.execute("SELECT name FROM item WHERE id = %s", [7])
        c.fetchone()
        c.execute("SELECT COUNT(*) FROM item WHERE price > %s", [100])
        c.fetchone()
        c.execute("SELECT id, name FROM item ORDER BY price DESC LIMIT 5")
        c.fetchall()
    return HttpResponse("ok")


def template(request):
    from django.shortcuts import render

    return render(request, "page.html", {"title": "Items", "items": list(range(20))})


def _urlpatterns():
    from django.urls import path

    return [path("trivial/", trivial), path("three_queries/", three_queries), path("template/", template)]


def __getattr__(name):  # ROOT_URLCONF = this module; build urlpatterns lazily
    if name == "urlpatterns":
        return _urlpatterns()
    raise AttributeError(name)


def environ_for(path):
    return {
        "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": "",
        "SERVER_NAME": "bench", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "bench", "REMOTE_ADDR": "127.0.0.1", "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b""), "wsgi.errors": sys.stderr,
        "wsgi.multithread": False, "wsgi.multiprocess": False, "wsgi.run_once": False,
    }


def _start_response(status, headers, exc_info=None):
    return None


def drive(app, path, n):
    env = environ_for(path)
    for _ in range(n):
        e = dict(env)
        r = app(e, _start_response)
        r.close()


def rss_bytes():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def thread_cpu(thread):
    """CPU seconds used so far by a running thread (ns resolution; /proc's ticks are 10 ms)."""
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


def child(mode, sink_url, requests, batches):
    db = tempfile.NamedTemporaryFile(suffix=".sqlite3", delete=False).name
    agent = None
    if mode == "agent":
        sys.path.insert(0, AGENT_DIR)
        import pulse_agent

        agent = pulse_agent.init(
            endpoint=sink_url, ingest_key=KEY, app_name="bench", log_level="error"
        )
        assert agent is not None
    setup_django(db)
    from django.core.wsgi import get_wsgi_application

    app = get_wsgi_application()
    out = {}
    for view in VIEWS:
        path = "/%s/" % view
        drive(app, path, requests)  # warm-up
        cpu, wall = [], []
        for _ in range(batches):
            w0, c0 = time.perf_counter(), time.process_time()
            drive(app, path, requests)
            cpu.append((time.process_time() - c0) / requests * 1e6)
            wall.append((time.perf_counter() - w0) / requests * 1e6)
        out[view] = statistics.median(cpu)
        out[view + "_wall"] = statistics.median(wall)
    # steady state: the same mixed workload in both modes, then RSS
    for _ in range(3):
        for view in VIEWS:
            drive(app, "/%s/" % view, requests)
    out["rss"] = rss_bytes()
    # harvest thread CPU at a paced 1,000 requests/s (trivial view), 6 seconds
    if agent is not None:
        time.sleep(agent.settings.harvest_interval * 1.5)
        # the harvest thread (folding, payloads) and the sender thread (posting)
        threads = [agent.thread, agent.sender]
        cpu0 = sum(map(thread_cpu, threads))
        wall0 = time.monotonic()
        env = environ_for("/trivial/")
        n = 0
        while time.monotonic() - wall0 < 6.0:
            target = wall0 + n / 1000.0
            delay = target - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            app(dict(env), _start_response).close()
            n += 1
        wall = time.monotonic() - wall0
        out["harvest_cpu_s"] = sum(map(thread_cpu, threads)) - cpu0
        out["paced_rps"] = n / wall
        out["paced_wall"] = wall
        out["pending_bytes"] = agent.pending_bytes
    os.unlink(db)
    print(json.dumps(out))


# -- the parent: a local sink, interleaved rounds ---------------------------------------------------


class _Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    payloads = 0

    def log_message(self, *a):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        json.loads(gzip.decompress(body))
        type(self).payloads += 1
        raw = b'{"batch_id": "x", "apdex_t": 0.5}'
        self.send_response(202)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


def child_icount(mode, view, n):
    """For --instructions: the same app, a fixed number of requests, then exit.

    Deterministic by construction: the agent's threads are stopped (their wake-ups
    follow the wall clock, which valgrind slows ~50x) and the transactions buffered
    by the requests are folded explicitly at the end, so the count covers the request
    path plus aggregation; building and sending payloads is the harvest-thread figure
    of the wall-clock mode. Objects made before the measured requests are frozen out
    of the GC in both modes: otherwise one full collection (~100k instructions per
    request over 1,000 requests) lands in one run and not in the other. Counts still
    move by a few thousand per request with the size of the environment (the caller
    passes the same one to every run)."""
    import gc

    # a fixed path: a random one changes string hashes, hence dict probing, by run
    db = os.path.join(tempfile.gettempdir(), "pulse-agent-bench-%s-%d.sqlite3" % (view, n))
    agent = None
    if mode == "agent":
        sys.path.insert(0, AGENT_DIR)
        import pulse_agent

        agent = pulse_agent.init(endpoint="http://127.0.0.1:9", ingest_key=KEY, app_name="bench",
                                 log_level="error", harvest_interval=60)
        agent.stop_event.set()
        agent.send_wake.set()
        agent.wake_harvest()
        agent.thread.join()
        agent.sender.join()
    setup_django(db)
    from django.core.wsgi import get_wsgi_application

    app = get_wsgi_application()
    drive(app, "/%s/" % view, 300)
    if agent is not None:
        agent.aggregator.fold()
    gc.collect()
    gc.freeze()
    drive(app, "/%s/" % view, n)
    if agent is not None:
        agent.aggregator.fold()
    os.unlink(db)
    os._exit(0)


def instructions(n):
    """Instructions per request under callgrind: deterministic, whatever the machine's load."""
    import re
    import shutil

    if not shutil.which("valgrind"):
        print("valgrind not found: skipping instruction counts")
        return
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULSE_", "DJANGO_"))}
    env["PYTHONHASHSEED"] = "0"
    per = {}
    for view in VIEWS:
        for mode in ("plain", "agent"):
            totals = []
            for count in (0, n):
                out = tempfile.NamedTemporaryFile(suffix=".cg", delete=False).name
                proc = subprocess.run(
                    ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out, sys.executable,
                     os.path.abspath(__file__), "--icount-child", mode, view, str(count)],
                    capture_output=True, text=True, env=env,
                )
                os.unlink(out)
                totals.append(int(re.search(r"Collected : (\d+)", proc.stderr).group(1)))
            per[(view, mode)] = (totals[1] - totals[0]) / n
    print("instructions per request (callgrind, %d requests after warm-up)" % n)
    print("%-16s %12s %12s %12s" % ("view", "without", "with agent", "added"))
    for view in VIEWS:
        a, b = per[(view, "plain")], per[(view, "agent")]
        print("%-16s %12.0f %12.0f %+12.0f (%+.1f%%)" % (view, a, b, b - a, (b - a) / a * 100))
    q = (per[("three_queries", "agent")] - per[("three_queries", "plain")]
         - per[("trivial", "agent")] + per[("trivial", "plain")]) / 3
    print("%-16s %38s %+12.0f" % ("per DB query", "", q))


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--icount-child":
        child_icount(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--requests", type=int, default=2000, help="requests per batch")
    ap.add_argument("--batches", type=int, default=5)
    ap.add_argument("--child", choices=("plain", "agent"))
    ap.add_argument("--sink")
    ap.add_argument("--instructions", type=int, metavar="N", default=0,
                    help="instead: count instructions per request under callgrind (N requests)")
    args = ap.parse_args()
    if args.instructions:
        instructions(args.instructions)
        return
    if args.child:
        child(args.child, args.sink, args.requests, args.batches)
        return
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sink = "http://127.0.0.1:%d" % server.server_address[1]
    results = {"plain": [], "agent": []}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULSE_", "DJANGO_"))}
    for r in range(args.rounds):
        for mode in (("plain", "agent") if r % 2 == 0 else ("agent", "plain")):
            cmd = [sys.executable, os.path.abspath(__file__), "--child", mode, "--sink", sink,
                   "--requests", str(args.requests), "--batches", str(args.batches)]
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
            results[mode].append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print("round %d %-5s %s" % (r + 1, mode, "  ".join(
                "%s=%.1fus" % (v, results[mode][-1][v]) for v in VIEWS)), file=sys.stderr)

    def med(mode, key):
        return statistics.median(x[key] for x in results[mode])

    import django

    print("Pulse agent overhead: Django %s, Python %s, %d rounds x %d batches x %d requests per view"
          % (django.get_version(), sys.version.split()[0], args.rounds, args.batches, args.requests))
    print("%-16s %12s %12s %12s   %s" % ("view (CPU)", "without", "with agent", "added", "wall: without / with"))
    for v in VIEWS:
        a, b = med("plain", v), med("agent", v)
        print("%-16s %10.1f us %10.1f us %+10.1f us   %.1f / %.1f us" % (
            v, a, b, b - a, med("plain", v + "_wall"), med("agent", v + "_wall")))
    per_query = (med("agent", "three_queries") - med("plain", "three_queries")
                 - (med("agent", "trivial") - med("plain", "trivial"))) / 3
    print("%-16s %37s %+10.2f us" % ("per DB query", "", per_query))
    rss = med("agent", "rss") - med("plain", "rss")
    print("agent memory at steady state (RSS with - without): %.1f MiB" % (rss / 1048576.0))
    cpu = [x["harvest_cpu_s"] / x["paced_wall"] * 1000.0 / x["paced_rps"] for x in results["agent"]]
    print("harvest + sender threads CPU per 1,000 req/s: %.2f%% of one core (%.1f ms CPU per second)"
          % (statistics.median(cpu) * 100, statistics.median(cpu) * 1000))
    print("payloads received by the local sink: %d" % _Sink.payloads)
    server.shutdown()


if __name__ == "__main__":
    main()
