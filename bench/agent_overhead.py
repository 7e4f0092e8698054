"""Overhead of the Pulse agent on a Django app, driven in-process through its WSGI
handler (no network). Prints figures; asserts nothing.

    python bench/agent_overhead.py [--rounds 5] [--requests 1000] [--databases sqlite,postgresql]
    python bench/agent_overhead.py --instructions 1000   # deterministic, needs valgrind
    python bench/agent_overhead.py --peers opentelemetry,newrelic,ddtrace,sentry

Views, each on SQLite and on PostgreSQL (psycopg 3) unless it makes no query:
a trivial view behind three middleware, the same view behind Django's default middleware
stack (sessions, auth, CSRF, messages), a template render, three raw-cursor queries,
ORM reads (``count()`` and ``filter(pk=...).values_list(...).first()``), a list of 20
rows with ``select_related``, and an ORM write in a transaction (an ``update`` and a
``create``). The PostgreSQL database (``--postgres``) is created by this script on the
local server and dropped after.

Each mode (without / with the agent) and database runs in a fresh process; the rounds
interleave the modes and the figures are medians over rounds, with the added cost as
the median of the differences paired by round. The main figure is the CPU time per
request of the thread serving them (less disturbed by other load on the machine than
wall time, which is printed too); the CPU of the agent's harvest and sender threads
(folding the buffered transactions, building and posting payloads) is printed apart,
per request over the whole run: a harvest lands in one batch or another, and in
process CPU time it made single views look tens of microseconds dearer. "Per ORM query" is a view's added cost minus the trivial view's,
divided by the queries the view makes (counted through Django's ``execute_wrapper``).
The agent posts to a local stdlib sink started by this script, as it would to Pulse.
``--peers`` runs other agents in the same rounds, each in its own process and recording
to the same sink (``peer_agents.py``), and prints a table of every agent's added CPU per
request, view by view, with Pulse's share of the cheapest other agent's; the spans
(Pulse: transactions) each agent delivered are counted and printed.
Also: the agent's memory at steady state (RSS with minus without, same workload)
and the CPU used by the harvest thread at a paced 1,000 requests/s.
"""

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import peer_agents

HERE = os.path.dirname(os.path.abspath(__file__))
AGENT_DIR = os.path.join(os.path.dirname(HERE), "agent")
DATABASES = ("sqlite", "postgresql")
QUERYLESS = ("trivial", "middleware", "template")
QUERYING = ("raw_queries", "orm_reads", "orm_list", "orm_write")
VIEWS = {"sqlite": QUERYLESS + QUERYING, "postgresql": ("trivial",) + QUERYING}
KEY = "pulse_ik_" + "B3nchM4rk0" * 4
POSTGRES = "postgres://postgres@127.0.0.1:5432/pulse_bench_orm"
MINIMAL_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
# what ``django-admin startproject`` writes
DEFAULT_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# -- the Django app (child process) ---------------------------------------------------


def database_settings(database, path):
    if database == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": path, "CONN_MAX_AGE": None}
    url = urlsplit(path)
    return {
        "ENGINE": "django.db.backends.postgresql", "NAME": url.path.lstrip("/"),
        "USER": url.username or "", "PASSWORD": url.password or "",
        "HOST": url.hostname or "", "PORT": str(url.port or ""), "CONN_MAX_AGE": None,
    }


def setup_django(database, path, after_configure=None):
    """Configure Django for ``database`` (a file path, or the PostgreSQL URL) and
    create the tables afresh, seeded with 5 categories and 50 items;
    ``after_configure()`` runs between the settings and ``django.setup()``."""
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=[
            "django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
            "django.contrib.messages", "overhead_app",
        ],
        MIDDLEWARE=list(MINIMAL_MIDDLEWARE),  # a copy: OpenTelemetry inserts its own
        DATABASES={"default": database_settings(database, path)},
        TEMPLATES=[{
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "OPTIONS": {"loaders": [("django.template.loaders.locmem.Loader", {
                "page.html": "<h1>{{ title }}</h1><ul>{% for i in items %}<li>{{ i }}</li>{% endfor %}</ul>",
            })]},
        }],
        USE_TZ=True,
    )
    if after_configure is not None:
        after_configure()
    django.setup()
    from django.db import connection
    from overhead_app.models import Category, Item, StockMove

    models = (Category, Item, StockMove)
    with connection.cursor() as c:
        for model in reversed(models):
            c.execute("DROP TABLE IF EXISTS %s" % model._meta.db_table)
    with connection.schema_editor() as editor:
        for model in models:
            editor.create_model(model)
    categories = Category.objects.bulk_create(Category(name="category %d" % i) for i in range(5))
    Item.objects.bulk_create(
        Item(name="item %d" % i, price=i * 10, stock=100, category=categories[i % 5]) for i in range(50)
    )


def wsgi_apps():
    """The WSGI handler per view: the ``middleware`` view runs behind the default stack
    (plus any middleware a peer agent added to the settings, e.g. OpenTelemetry's)."""
    from django.conf import settings
    from django.core.wsgi import get_wsgi_application
    from django.test.utils import override_settings

    added = [m for m in settings.MIDDLEWARE if m not in MINIMAL_MIDDLEWARE]
    minimal = get_wsgi_application()
    with override_settings(MIDDLEWARE=added + DEFAULT_MIDDLEWARE):
        default = get_wsgi_application()
    return lambda view: default if view == "middleware" else minimal


def trivial(request):
    from django.http import HttpResponse

    return HttpResponse("ok")


def raw_queries(request):
    from django.db import connection
    from django.http import HttpResponse

    with connection.cursor() as c:
        c.execute("SELECT name FROM overhead_app_item WHERE id = %s", [7])
        c.fetchone()
        c.execute("SELECT COUNT(*) FROM overhead_app_item WHERE price > %s", [100])
        c.fetchone()
        c.execute("SELECT id, name FROM overhead_app_item ORDER BY price DESC LIMIT 5")
        c.fetchall()
    return HttpResponse("ok")


def orm_reads(request):
    from django.http import HttpResponse
    from overhead_app.models import Item

    count = Item.objects.count()
    name = Item.objects.filter(pk=7).values_list("name", flat=True).first()
    return HttpResponse("%d %s" % (count, name))


def orm_list(request):
    from django.http import HttpResponse
    from overhead_app.models import Item

    items = Item.objects.select_related("category").order_by("-price")[:20]
    return HttpResponse(",".join("%s/%s" % (i.name, i.category.name) for i in items))


def orm_write(request):
    from django.db import transaction
    from django.db.models import F
    from django.http import HttpResponse
    from overhead_app.models import Item, StockMove

    with transaction.atomic():
        Item.objects.filter(pk=7).update(stock=F("stock") - 1)
        StockMove.objects.create(item_id=7, delta=-1)
    return HttpResponse("ok")


def template(request):
    from django.shortcuts import render

    return render(request, "page.html", {"title": "Items", "items": list(range(20))})


def _urlpatterns():
    from django.urls import path

    views = {
        "trivial": trivial, "middleware": trivial, "template": template, "raw_queries": raw_queries,
        "orm_reads": orm_reads, "orm_list": orm_list, "orm_write": orm_write,
    }
    return [path("%s/" % name, view) for name, view in views.items()]


def __getattr__(name):  # ROOT_URLCONF = this module; build urlpatterns lazily
    if name == "urlpatterns":
        return _urlpatterns()
    raise AttributeError(name)


def queries_per_request(app_for, views):
    """How many queries each view sends through Django's cursor wrapper."""
    from django.db import connection

    counts = {}
    for view in views:
        seen = []
        with connection.execute_wrapper(lambda execute, sql, *a: seen.append(sql) or execute(sql, *a)):
            drive(app_for(view), view, 1)
        counts[view] = len(seen)
    return counts


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


def drive(app, view, n):
    env = environ_for("/%s/" % view)
    for _ in range(n):
        app(dict(env), _start_response).close()


def rss_bytes():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def thread_cpu(thread):
    """CPU seconds used so far by a running thread (ns resolution; /proc's ticks are 10 ms)."""
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


def start_agent(**options):
    sys.path.insert(0, AGENT_DIR)
    import pulse_agent

    agent = pulse_agent.init(ingest_key=KEY, app_name="bench", log_level="error", **options)
    assert agent is not None
    return agent


def start_mode(mode, database, path, sink_url):
    """Start the agent of ``mode`` (none for plain), then Django; returns the Pulse
    agent (or None) and the peer's state for ``peer_agents.finish``."""
    agent = start_agent(endpoint=sink_url) if mode == "agent" else None
    peer = peer_agents.before_django(mode, sink_url) if mode in peer_agents.PEERS else None
    setup_django(database, path, lambda: peer_agents.after_configure(mode, sink_url))
    return agent, peer


def child(mode, database, db_url, sink_url, requests, batches):
    path = db_url if database == "postgresql" else tempfile.NamedTemporaryFile(suffix=".sqlite3", delete=False).name
    agent, peer = start_mode(mode, database, path, sink_url)
    app_for = wsgi_apps()
    views = VIEWS[database]
    out = {"queries": queries_per_request(app_for, views)}
    # the agents' own threads (harvest, exporters, writers): the process's CPU less the requests' thread
    process0, thread0, timed = time.process_time(), time.thread_time(), 0
    for view in views:
        app = app_for(view)
        drive(app, view, requests)  # warm-up
        cpu, wall = [], []
        for _ in range(batches):
            # the requests' own CPU: the harvest lands in one batch or another, so the
            # agent's threads are counted apart, over the whole run
            w0, c0 = time.perf_counter(), time.thread_time()
            drive(app, view, requests)
            cpu.append((time.thread_time() - c0) / requests * 1e6)
            wall.append((time.perf_counter() - w0) / requests * 1e6)
        timed += (batches + 1) * requests
        out[view] = statistics.median(cpu)
        out[view + "_wall"] = statistics.median(wall)
    out["threads_us"] = ((time.process_time() - process0) - (time.thread_time() - thread0)) / timed * 1e6
    # steady state: the same mixed workload in both modes, then RSS
    for _ in range(3):
        for view in views:
            drive(app_for(view), view, requests)
    out["rss"] = rss_bytes()
    # harvest thread CPU at a paced 1,000 requests/s (trivial view), 6 seconds
    if agent is not None and database == "sqlite":
        threads = [agent.thread, agent.sender]
        time.sleep(agent.settings.harvest_interval * 1.5)
        # the harvest thread (folding, payloads) and the sender thread (posting)
        cpu0 = sum(map(thread_cpu, threads))
        wall0 = time.monotonic()
        env = environ_for("/trivial/")
        app = app_for("trivial")
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
    if mode in peer_agents.PEERS:
        out["recorded"] = peer_agents.finish(mode, peer)
    if database == "sqlite":
        os.unlink(path)
    print(json.dumps(out))


def postgres_database(url, create):
    """Create (afresh) or drop the bench's database on the server of ``url``."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)
        if create:
            conn.execute('CREATE DATABASE "%s"' % name)


# -- the parent: a local sink, interleaved rounds ---------------------------------------------------


def child_icount(mode, database, db_url, sink_url, n):
    """For --instructions: under callgrind with collection off, each view warmed up,
    then ``n`` requests of it inside ``sys.call_tracing``, the one function callgrind
    collects in (``--toggle-collect``) and dumps a count after (``--dump-after``), on
    this thread only: the agents' own threads are left out, as in the wall-clock mode.
    Pulse's threads are stopped and the buffered transactions folded outside the
    counted part (the harvest thread's work). Objects made before the counted requests
    are frozen out of the GC in every mode: otherwise a full collection lands in one
    run and not in another. Prints the queries per request of each view."""
    import gc

    # a fixed path: a random one changes string hashes, hence dict probing, by run
    path = db_url if database == "postgresql" else os.path.join(
        tempfile.gettempdir(), "pulse-agent-bench-%s-%d-%d.sqlite3" % (mode, n, os.getpid()))
    agent, peer = start_mode(mode, database, path, sink_url)
    if agent is not None:
        agent.stop_event.set()
        agent.send_wake.set()
        agent.wake_harvest()
        agent.thread.join()
        agent.sender.join()
    app_for = wsgi_apps()
    views = VIEWS[database]
    print(json.dumps(queries_per_request(app_for, views)), flush=True)
    for view in views:
        app = app_for(view)
        drive(app, view, n)
        if agent is not None:
            agent.aggregator.fold()
        gc.collect()
        gc.freeze()
        sys.call_tracing(drive, (app, view, n))
        if agent is not None:
            agent.aggregator.fold()
    if mode in peer_agents.PEERS:
        peer_agents.finish(mode, peer)
    if database == "sqlite":
        os.unlink(path)
    os._exit(0)


def instructions(args):
    """Instructions per request under callgrind: deterministic, whatever the machine's load."""
    import re
    import shutil

    if not shutil.which("valgrind"):
        print("valgrind not found: skipping instruction counts")
        return
    n = args.instructions
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULSE_", "DJANGO_", "DD_", "NEW_RELIC_", "OTEL_"))}
    env["PYTHONHASHSEED"] = "0"
    sink, counts, server = peer_agents.start_sink()
    modes = ("plain", "agent") + args.peers

    def run(job):  # one database per run, so that runs can go side by side
        database, mode = job
        db_url = "%s_%s_icount" % (args.postgres, mode)
        out = tempfile.mkdtemp()
        if database == "postgresql":
            postgres_database(db_url, create=True)
        try:
            proc = subprocess.run(
                ["valgrind", "--tool=callgrind", "--collect-atstart=no", "--toggle-collect=_PyEval_CallTracing",
                 "--dump-after=_PyEval_CallTracing", "--callgrind-out-file=%s/cg" % out, sys.executable,
                 os.path.abspath(__file__), "--icount-child", mode, database, db_url, sink, str(n)],
                capture_output=True, text=True, env=env,
            )
            dumps = sorted((f for f in os.listdir(out) if re.fullmatch(r"cg\.\d+", f)), key=lambda f: int(f[3:]))
            totals = []
            for f in dumps:
                with open(os.path.join(out, f)) as fh:
                    totals.append(int(re.search(r"^totals: (\d+)", fh.read(), re.M).group(1)))
        finally:
            shutil.rmtree(out)
            if database == "postgresql":
                postgres_database(db_url, create=False)
        if len(totals) != len(VIEWS[database]):
            raise SystemExit("callgrind run of %s failed:\n%s" % (mode, proc.stderr[-3000:]))
        queries = json.loads(proc.stdout.strip().splitlines()[0])
        return dict(zip(VIEWS[database], (t / n for t in totals))), queries

    print("instructions per request on the requests' thread (callgrind, %d requests per view after %d of warm-up)"
          % (n, n))
    jobs = [(database, mode) for database in args.databases for mode in modes]
    try:
        with ThreadPoolExecutor(args.jobs) as pool:
            per = dict(zip(jobs, pool.map(run, jobs)))
    finally:
        server.shutdown()
    for database in args.databases:
        plain, queries = per[(database, "plain")]
        pulse = per[(database, "agent")][0]
        print("%s:" % database)
        print("%-16s %12s %12s %12s %10s %14s" % ("view", "without", "with agent", "added", "", "per ORM query"))
        base = pulse["trivial"] - plain["trivial"]
        for view in VIEWS[database]:
            a, b = plain[view], pulse[view]
            q = queries[view]
            per_query = "%+14.0f" % ((b - a - base) / q) if q else ""
            print("%-16s %12.0f %12.0f %+12.0f %+9.1f%% %s" % (view, a, b, b - a, (b - a) / a * 100, per_query))
        print("(per ORM query: added minus the trivial view's added, over the view's queries: %s)" % ", ".join(
            "%s %d" % (v, q) for v, q in queries.items() if q))
        if args.peers:
            agents = ("agent",) + args.peers
            print("added instructions per request, every agent:")
            print("| view | " + " | ".join(peer_agents.LABELS[m] for m in agents) + " | Pulse / cheapest other |")
            print("|---|" + "---:|" * (len(agents) + 1))
            for view in VIEWS[database]:
                added = {m: per[(database, m)][0][view] - plain[view] for m in agents}
                cheapest = min(added[m] for m in args.peers)
                print("| %s (%s) | " % (view, database) + " | ".join("%+.0f" % added[m] for m in agents)
                      + " | 1/%.0f |" % (cheapest / added["agent"]))
    received = counts.snapshot()
    print("spans received by the sink during the counted runs: " + ", ".join(
        "%s %d" % (peer_agents.LABELS[m], received[1].get(m, 0)) for m in args.peers if m != "newrelic"))


def wall_clock(args):
    sink, counts, server = peer_agents.start_sink()
    modes = ("plain", "agent") + args.peers
    results = {(db, mode): [] for db in args.databases for mode in modes}
    received = {mode: [0, 0] for mode in modes}  # payloads, spans (Pulse: transactions)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULSE_", "DJANGO_", "DD_", "NEW_RELIC_", "OTEL_"))}
    if "postgresql" in args.databases:
        postgres_database(args.postgres, create=True)
    try:
        for r in range(args.rounds):
            for db in args.databases:
                for mode in (modes if r % 2 == 0 else modes[::-1]):
                    cmd = [sys.executable, os.path.abspath(__file__), "--child", mode, "--database", db,
                           "--postgres", args.postgres, "--sink", sink,
                           "--requests", str(args.requests), "--batches", str(args.batches)]
                    before = counts.snapshot()
                    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
                    if proc.returncode:
                        raise SystemExit("%s child failed:\n%s" % (mode, proc.stderr[-3000:]))
                    out = json.loads(proc.stdout.strip().splitlines()[-1])
                    results[(db, mode)].append(out)
                    after = counts.snapshot()
                    own = out.get("recorded")  # New Relic: its developer-mode collector, counted in the child
                    payloads = own["payloads"] if own else after[0].get(mode, 0) - before[0].get(mode, 0)
                    spans = own["spans"] + own["transactions"] if own else after[1].get(mode, 0) - before[1].get(mode, 0)
                    received[mode][0] += payloads
                    received[mode][1] += spans
                    print("round %d %-10s %-13s %s  (recorded: %d payloads, %d %s)" % (
                        r + 1, db, mode, "  ".join("%s=%.1fus" % (v, out[v]) for v in VIEWS[db]), payloads,
                        spans, "transactions" if mode == "agent" else "spans + transactions"), file=sys.stderr)
    finally:
        if "postgresql" in args.databases:
            postgres_database(args.postgres, create=False)
        server.shutdown()

    import django

    print("Agent overhead: Django %s, Python %s, %d rounds x %d batches x %d requests per view"
          % (django.get_version(), sys.version.split()[0], args.rounds, args.batches, args.requests))
    print("CPU time per request (the requests' thread), medians; added = median of paired differences")
    print("%-24s %10s %10s %10s %14s   %s" % ("view", "without", "with", "added", "per ORM query",
                                              "wall: without / with / added"))
    for db in args.databases:
        plain, agent = results[(db, "plain")], results[(db, "agent")]
        queries = plain[0]["queries"]

        def med(rows, key):
            return statistics.median(x[key] for x in rows)

        def added(view, suffix=""):
            return [b[view + suffix] - a[view + suffix] for a, b in zip(plain, agent)]

        for view in VIEWS[db]:
            q = queries[view]
            per_query = ""
            if q:
                per_query = "%+11.2f us" % statistics.median(
                    (d - t) / q for d, t in zip(added(view), added("trivial")))
            print("%-24s %7.1f us %7.1f us %+7.1f us %14s   %.1f / %.1f / %+.1f us" % (
                "%s (%s)" % (view, db), med(plain, view), med(agent, view), statistics.median(added(view)),
                per_query, med(plain, view + "_wall"), med(agent, view + "_wall"),
                statistics.median(added(view, "_wall"))))
    for db in args.databases:
        print("agent's harvest + sender threads, %s process, whole run: %.1f us CPU per request" % (
            db, statistics.median(x["threads_us"] for x in results[(db, "agent")])))
    print("(queries per request: %s)" % "; ".join(
        "%s: %s" % (db, ", ".join("%s %d" % (v, q) for v, q in results[(db, "plain")][0]["queries"].items() if q))
        for db in args.databases))
    if "sqlite" in args.databases:
        rss = statistics.median(x["rss"] for x in results[("sqlite", "agent")]) - statistics.median(
            x["rss"] for x in results[("sqlite", "plain")])
        print("agent memory at steady state (RSS with - without, SQLite process): %.1f MiB" % (rss / 1048576.0))
        cpu = [x["harvest_cpu_s"] / x["paced_wall"] * 1000.0 / x["paced_rps"] for x in results[("sqlite", "agent")]]
        print("harvest + sender threads CPU per 1,000 req/s: %.2f%% of one core (%.1f ms CPU per second)"
              % (statistics.median(cpu) * 100, statistics.median(cpu) * 1000))
    if args.peers:
        peers_table(args, results)
    print("recorded, whole run: " + "; ".join(
        "%s %d payloads, %d %s" % (peer_agents.LABELS[m], p, n, "transactions" if m == "agent" else "spans")
        for m, (p, n) in received.items() if m != "plain"))


def peers_table(args, results):
    """Added CPU per request of every agent, view by view, and Pulse's share of the cheapest peer's."""
    agents = ("agent",) + args.peers
    print()
    print("added CPU per request (us, the requests' thread; median of paired differences), and per request"
          " on the agents' own threads")
    print("| view | " + " | ".join(peer_agents.LABELS[a] for a in agents) + " | Pulse / cheapest other |")
    print("|---|" + "---:|" * (len(agents) + 1))
    for db in args.databases:
        plain = results[(db, "plain")]
        for view in VIEWS[db]:
            added = {a: statistics.median(b[view] - p[view] for p, b in zip(plain, results[(db, a)])) for a in agents}
            cheapest = min(added[a] for a in args.peers)
            ratio = "1/%.0f" % (cheapest / added["agent"]) if added["agent"] > 0 and cheapest > 0 else "n/a"
            print("| %s (%s) | " % (view, db) + " | ".join("%+.1f" % added[a] for a in agents) + " | %s |" % ratio)
        print("| agents' threads (%s) | " % db + " | ".join(
            "%.1f" % statistics.median(x["threads_us"] for x in results[(db, a)]) for a in agents) + " | |")


def peer_list(text):
    peers = tuple(p for p in text.split(",") if p)
    unknown = sorted(set(peers) - set(peer_agents.PEERS))
    if unknown:
        raise argparse.ArgumentTypeError("unknown peer %s (choose from %s)" % (
            ", ".join(unknown), ", ".join(peer_agents.PEERS)))
    return peers


def main():
    if len(sys.argv) == 7 and sys.argv[1] == "--icount-child":
        child_icount(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--requests", type=int, default=1000, help="requests per batch")
    ap.add_argument("--batches", type=int, default=5)
    ap.add_argument("--databases", type=lambda s: tuple(s.split(",")), default=DATABASES,
                    help="comma-separated: sqlite, postgresql")
    ap.add_argument("--postgres", default=POSTGRES,
                    help="URL of the PostgreSQL database to create, use and drop (default %(default)s)")
    ap.add_argument("--peers", type=peer_list, default=(),
                    help="comma-separated other agents to run beside Pulse: %s" % ",".join(peer_agents.PEERS))
    ap.add_argument("--child", choices=("plain", "agent") + peer_agents.PEERS)
    ap.add_argument("--database", choices=DATABASES)
    ap.add_argument("--sink")
    ap.add_argument("--instructions", type=int, metavar="N", default=0,
                    help="instead: count instructions per request under callgrind (N requests)")
    ap.add_argument("--jobs", type=int, default=1, help="callgrind runs at a time")
    args = ap.parse_args()
    if args.instructions:
        instructions(args)
    elif args.child:
        child(args.child, args.database, args.postgres, args.sink, args.requests, args.batches)
    else:
        wall_clock(args)


if __name__ == "__main__":
    main()
