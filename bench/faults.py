"""Faults benchmark: the real platform under faults, and what each one costs.

Starts a PostgreSQL cluster (initdb into a temporary directory) and a Redis server (AOF,
appendfsync always) of its own on free ports, so it may restart and kill them; then
uvicorn (the ASGI ingest fast path) and a prefork Celery worker running the stream
consumers, as ``make run`` does. Simulated agents (bench/loadgen.py: realistic harvest
payloads built by contract/builders.py) of several well-behaved organisations post at a
steady rate throughout; each phase injects one fault a third of the way in:

  quiet            nothing: the reference figures
  worker SIGKILL   one worker process killed (mid-batch, under load); Celery forks another
  postgres restart pg_ctl restart -m fast: every session ends
  redis restart    redis-server SIGKILLed and started again on its AOF
  poison entry     an entry no worker can apply, put on the stream
  random keys      one client posting with random unknown keys, back to back
  noisy neighbour  one organisation posting ten times a well-behaved one's rate

and prints per phase: payloads accepted (202), applied (in the ledger), lost (accepted, not
applied) and double-counted (transactions in the minute rollups beyond those of the applied
payloads, in payloads) — both must be 0 —, the seconds from the fault until ingest answers
202 again and until rollups are fresh again, and the well-behaved organisations' POST p99
and freshness p95 (202 → committed in PostgreSQL) beside the quiet phase's.

Figures, not pass/fail. About ``7 × (--duration + drain)`` seconds plus set-up:

    .venv/bin/python bench/faults.py [--duration 20] [--orgs 3] [--agents 4] [--rate 1]
"""

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # ahead of bench/, so no bench script can shadow an app

import loadgen  # noqa: E402

from tests.servers import PostgresServer, RedisServer, free_port, missing, stop_group, wait_until  # noqa: E402

STREAM = "pulse:ingest:faults"
# Seconds an entry stays with a consumer that went silent before another claims it (the
# default, a minute, is sized for production; here it bounds the SIGKILL phase's recovery).
CLAIM_IDLE_SECONDS = 10
UNKNOWN_KEY_CLIENTS = 8  # concurrent connections of the random-keys client


def pct(values, q):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q * (len(s) - 1) + 0.5))]


class Platform:
    """The servers of this run and the processes on them."""

    def __init__(self, args):
        self.tmp = Path(tempfile.mkdtemp(prefix="pulse-faults-"))
        self.pg = PostgresServer().init().start()
        self.redis = RedisServer(self.tmp / "redis").start()
        self.database_url = self.pg.create_database("pulse")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis.url,
            "QUEUE_REDIS_URL": self.redis.url,
            "CACHE_REDIS_URL": self.redis.url,
            "CELERY_BROKER_URL": self.redis.url,
            "INGEST_STREAM": STREAM,
            "INGEST_CLAIM_IDLE_SECONDS": str(CLAIM_IDLE_SECONDS),
            "INGEST_BACKLOG_BYTES_PER_ORG": str(args.share_mb << 20),
            "DEBUG": "false",
            "SECRET_KEY": "bench-secret-key-not-for-production-0123456789abcdef",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True,
                       env={**self.env, "DEBUG": "true"})
        self.procs = []
        self.start("web", [sys.executable, "-m", "uvicorn", "pulse.asgi:application", "--host", "127.0.0.1",
                           "--port", str(self.port), "--workers", str(args.web_workers), "--no-access-log",
                           "--log-level", "warning"])
        self.worker = self.start("worker", [
            sys.executable, "-m", "celery", "-A", "pulse", "worker", "-l", "WARNING", "--pool=prefork",
            f"--concurrency={args.worker_processes}", "--without-heartbeat", "--without-gossip", "--without-mingle",
            "-Q", "celery"])
        if not wait_until(self._answers, 60):
            raise RuntimeError(f"the web process did not start; see {self.tmp}/web.log")

    def start(self, name, cmd):
        with open(self.tmp / f"{name}.log", "wb") as log:
            proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        self.procs.append(proc)
        return proc

    def _answers(self):
        import socket

        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def close(self):
        for proc in self.procs:
            stop_group(proc)
        self.redis.stop()
        self.pg.remove()

    def sql(self, query, *args):
        """Rows of one query on a connection of its own (the server may have restarted since)."""
        import psycopg

        with psycopg.connect(self.database_url, connect_timeout=5) as conn:
            return conn.execute(query, args).fetchall()

    def seed(self, names):
        """An organisation, an ingest key and an app per name: {name: (org id, key)}."""
        import django

        os.environ.update({k: v for k, v in self.env.items() if k in ("DATABASE_URL", "REDIS_URL", "INGEST_STREAM")})
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pulse.settings")
        os.environ["DEBUG"] = "true"
        django.setup()
        from django.db import connections

        from tenants import keys
        from tenants.models import App, IngestKey, Organization

        out = {}
        for name in names:
            org = Organization.objects.create(name=name, slug=name)
            raw = keys.generate_key()
            IngestKey.objects.for_org(org).create(organization=org, label="bench", prefix=raw[: keys.SHOWN_PREFIX_LENGTH],
                                                  key_hash=keys.hash_key(raw))
            App.objects.for_org(org).create(organization=org, name="shop")
            out[name] = (org.pk, raw)
        connections.close_all()
        return out

    def client(self):
        import redis

        return redis.Redis.from_url(self.redis.url, socket_connect_timeout=2, socket_timeout=5)

    def drained(self):
        try:
            r = self.client()
            return r.xlen(STREAM) == 0
        except Exception:
            return False

    def worker_children(self):
        try:
            return [int(p) for p in open(f"/proc/{self.worker.pid}/task/{self.worker.pid}/children").read().split()]
        except OSError:
            return []


# --- faults: each runs in a thread while the load goes on; returns what it did ---------------

def kill_worker(platform, orgs):
    children = platform.worker_children()
    if not children:
        return "no worker process to kill"
    victim = random.choice(children)
    os.kill(victim, signal.SIGKILL)
    return f"SIGKILL to worker process {victim}"


def restart_postgres(platform, orgs):
    t0 = time.monotonic()
    platform.pg.restart("fast")
    return f"PostgreSQL down {time.monotonic() - t0:.1f} s"


def restart_redis(platform, orgs):
    t0 = time.monotonic()
    platform.redis.restart(signal.SIGKILL)
    return f"Redis down {time.monotonic() - t0:.1f} s (SIGKILL, restarted on its AOF)"


def poison(platform, orgs):
    from contract import stream

    org_id, _ = orgs["org-1"]
    app_id = platform.sql("SELECT id FROM tenants_app WHERE organization_id = %s", org_id)[0][0]
    fields = stream.encode(org_id, app_id, time.time(), os.urandom(4096))  # no queued payload decodes from this
    platform.client().xadd(STREAM, dict(zip(fields[0::2], fields[1::2])))
    return "one undecodable entry queued"


FAULTS = {"worker SIGKILL": kill_worker, "postgres restart": restart_postgres, "redis restart": restart_redis,
          "poison entry": poison}


async def random_keys(url, stop_at, results):
    """One client posting with a new random well-formed key each time, back to back: each
    one is looked up (not refused for its form) until the per-client limit on unknown keys."""
    from tenants.keys import generate_key

    body = loadgen.Process("shop", 4242).template

    async def one():
        while time.monotonic() < stop_at:
            client = loadgen.Client(url, generate_key())
            try:
                status, _, _ = await client.post(body.make()[1])
                results.append(status)
            except OSError:
                results.append(None)
            finally:
                await client.close()

    await asyncio.gather(*(one() for _ in range(UNKNOWN_KEY_CLIENTS)))


# --- one phase ---------------------------------------------------------------------------------

def run_phase(platform, orgs, agents, args, fault=None, noisy=False, flood=False):
    """Steady load for --duration seconds, ``fault`` a third of the way in; then wait for the
    stream to drain and measure."""
    results = {name: [] for name in agents}  # per organisation: loadgen's tuples
    flood_statuses = []
    wall = time.time() - time.monotonic()  # monotonic → unix time
    start = time.monotonic()
    stop_at = start + args.duration
    injected = {}

    def inject():
        time.sleep(args.duration / 3)
        injected["at"] = time.monotonic()
        injected["what"] = FAULTS[fault](platform, orgs)
        injected["done"] = time.monotonic()

    injector = threading.Thread(target=inject) if fault else None
    if injector:
        injector.start()

    async def load():
        jobs = []
        for name, procs in agents.items():
            if name == "noisy" and not noisy:
                continue
            rate = args.rate * (10 if name == "noisy" else 1)
            key = orgs[name][1]
            jobs += [loadgen.run_process(p, platform.url, key, stop_at, 1 / rate, results[name]) for p in procs]
        if flood:
            jobs.append(random_keys(platform.url, stop_at, flood_statuses))
        await asyncio.gather(*jobs)

    loadgen.run(load())
    if injector:
        injector.join()
    drained = wait_until(platform.drained, args.drain, every=0.2)
    time.sleep(0.5)
    return measure(platform, orgs, results, wall, injected, drained, flood_statuses)


def measure(platform, orgs, results, wall, injected, drained, flood_statuses):
    out = {"drained": drained, "what": injected.get("what", ""), "flood": flood_statuses, "orgs": {}}
    t_fault = wall + injected["at"] if injected else None
    for name, rows in results.items():
        if not rows:
            continue
        org_id = orgs[name][0]
        accepted = [r for r in rows if r[2] == 202]
        applied = dict(platform.sql(
            "SELECT batch_id, extract(epoch FROM processed_at)::float8 FROM apm_processedbatch "
            "WHERE organization_id = %s AND batch_id = ANY(%s)", org_id, [r[5] for r in accepted]))
        fresh = [(applied[r[5]] - (wall + r[0] + r[1]), wall + r[0] + r[1], applied[r[5]])
                 for r in accepted if r[5] in applied]
        statuses = {}
        for r in rows:
            statuses[r[2]] = statuses.get(r[2], 0) + 1
        out["orgs"][name] = {
            "org_id": org_id, "posted": len(rows), "accepted": len(accepted), "applied": len(applied),
            "statuses": statuses, "lat": [r[1] * 1000 for r in rows], "fresh": [f[0] * 1000 for f in fresh],
            "transactions": sum(r[4] for r in accepted if r[5] in applied),
            "failures_at": [wall + r[0] + r[1] for r in rows if r[2] != 202], "fresh_rows": fresh,
        }
    out["t_fault"] = t_fault
    return out


def counted(platform, org_ids):
    """Transactions in the minute rollups, per organisation."""
    return dict(platform.sql("SELECT organization_id, sum(count)::bigint FROM apm_appminute "
                             "WHERE organization_id = ANY(%s) GROUP BY 1", list(org_ids)))


def report(name, ph, quiet, before, after, dead):
    well = {n: o for n, o in ph["orgs"].items() if n != "noisy"}
    accepted = sum(o["accepted"] for o in ph["orgs"].values())
    applied = sum(o["applied"] for o in ph["orgs"].values())
    double = 0.0
    for o in ph["orgs"].values():
        # Transactions counted beyond those of the applied payloads, in payloads of the average size.
        extra = after.get(o["org_id"], 0) - before.get(o["org_id"], 0) - o["transactions"]
        double += extra / max(o["transactions"] / max(o["applied"], 1), 1)
    lat = [x for o in well.values() for x in o["lat"]]
    fresh = [x for o in well.values() for x in o["fresh"]]
    line = (f"{name:17s} accepted {accepted:5d}  applied {applied:5d}  lost {accepted - applied:3d}  "
            f"double-counted {double:4.0f}")
    if ph["t_fault"] is not None:
        t = ph["t_fault"]
        fails = [x - t for o in well.values() for x in o["failures_at"] if x >= t]
        threshold = max(2000.0, 3 * pct([x for o in quiet["orgs"].values() for x in o["fresh"]], 0.95)) / 1000
        late = [a - t for o in well.values() for f, _, a in o["fresh_rows"] if a >= t and f > threshold]
        line += f"  ingest back {max(fails, default=0):5.1f} s  rollups fresh {max(late, default=0):5.1f} s"
    print(line)
    q_lat = [x for n, o in quiet["orgs"].items() for x in o["lat"]]
    q_fresh = [x for n, o in quiet["orgs"].items() for x in o["fresh"]]
    print(f"{'':17s} well-behaved POST p99 {pct(lat, 0.99):7.1f} ms (quiet {pct(q_lat, 0.99):.1f})  "
          f"freshness p95 {pct(fresh, 0.95):7.0f} ms (quiet {pct(q_fresh, 0.95):.0f})  "
          f"statuses {sum_statuses(well)}")
    if "noisy" in ph["orgs"]:
        print(f"{'':17s} noisy organisation: statuses {ph['orgs']['noisy']['statuses']}")
    if ph["flood"]:
        flood = {}
        for s in ph["flood"]:
            flood[s] = flood.get(s, 0) + 1
        print(f"{'':17s} random-key client: statuses {flood}")
    if ph["what"]:
        print(f"{'':17s} fault: {ph['what']}")
    if dead:
        print(f"{'':17s} dead letters added: {dead}")
    if not ph["drained"]:
        print(f"{'':17s} STREAM NOT DRAINED after the wait")


def sum_statuses(orgs):
    total = {}
    for o in orgs.values():
        for s, n in o["statuses"].items():
            total[s] = total.get(s, 0) + n
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=20.0, help="seconds of load per phase")
    ap.add_argument("--orgs", type=int, default=3, help="well-behaved organisations")
    ap.add_argument("--agents", type=int, default=4, help="simulated agent processes per organisation")
    ap.add_argument("--rate", type=float, default=1.0, help="payloads/s of each well-behaved agent process")
    ap.add_argument("--share-mb", type=int, default=8, help="INGEST_BACKLOG_BYTES_PER_ORG, in MiB")
    ap.add_argument("--drain", type=float, default=90.0, help="most seconds to wait for the stream to drain")
    ap.add_argument("--web-workers", type=int, default=1)
    ap.add_argument("--worker-processes", type=int, default=2)
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # each phase's figures as soon as they are known
    if missing():
        sys.exit(f"bench/faults.py needs {missing()}")

    print(f"machine: {os.cpu_count()} cores; {args.orgs} organisations x {args.agents} agents at {args.rate}/s, "
          f"the noisy one 10x; share {args.share_mb} MiB, claim idle {CLAIM_IDLE_SECONDS} s; "
          f"{args.duration:.0f} s per phase", flush=True)
    platform = Platform(args)
    try:
        names = [f"org-{i + 1}" for i in range(args.orgs)] + ["noisy"]
        orgs = platform.seed(names)
        agents = {n: [loadgen.Process("shop", i * 100 + k) for k in range(args.agents)] for i, n in enumerate(names)}
        # Keys cached, transaction names created, every process's connections made: the
        # quiet phase is the reference, so nothing of a first time may fall in it.
        warm = argparse.Namespace(**{**vars(args), "duration": max(5.0, args.duration / 2)})
        run_phase(platform, orgs, agents, warm, noisy=True)
        phases = [("quiet", {}), ("worker SIGKILL", {"fault": "worker SIGKILL"}),
                  ("postgres restart", {"fault": "postgres restart"}), ("redis restart", {"fault": "redis restart"}),
                  ("poison entry", {"fault": "poison entry"}), ("random keys", {"flood": True}),
                  ("noisy neighbour", {"noisy": True})]
        quiet = None
        org_ids = [o for o, _ in orgs.values()]
        dead_key = f"{STREAM}:dead"
        for name, kw in phases:
            print(f"phase: {name} ...", flush=True)
            before, dead_before = counted(platform, org_ids), platform.client().xlen(dead_key)
            ph = run_phase(platform, orgs, agents, args, **kw)
            after, dead_after = counted(platform, org_ids), platform.client().xlen(dead_key)
            quiet = quiet or ph
            report(name, ph, quiet, before, after, dead_after - dead_before)
    finally:
        platform.close()


if __name__ == "__main__":
    main()
