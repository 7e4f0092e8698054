"""Restarts that heal: the real web process (uvicorn, the ASGI fast path) and a real Celery
worker run against a PostgreSQL and a Redis of this module's own, which the tests stop,
restart and replace; every payload accepted is applied once, and no process is restarted.

The shared servers of the machine are never touched (tests/servers.py)."""

import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import pytest
from celery import Celery

from contract.builders import metric, payload
from tests.servers import PostgresServer, RedisServer, free_port, missing, stop_group, wait_until

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(missing()), reason=f"needs {missing()} to start servers of its own"),
]
STREAM = "pulse:ingest:restarts"

_SEED = """
from tenants import keys
from tenants.models import IngestKey, Organization
org = Organization.objects.create(name="{name}", slug="{name}")
raw = keys.generate_key()
IngestKey.objects.for_org(org).create(organization=org, label="t", prefix=raw[:keys.SHOWN_PREFIX_LENGTH],
                                      key_hash=keys.hash_key(raw))
print(org.pk, raw)
"""


def env_for(database_url, redis_url, **extra):
    return {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "QUEUE_REDIS_URL": redis_url,
            "CACHE_REDIS_URL": redis_url, "CELERY_BROKER_URL": redis_url, "INGEST_STREAM": STREAM, "DEBUG": "true",
            "INGEST_CLAIM_IDLE_SECONDS": "1", "PYTHONUNBUFFERED": "1", **extra}


@pytest.fixture(scope="module")
def postgres():
    """A migrated PostgreSQL of this module's own: (server, database URL)."""
    server = PostgresServer().init().start()
    try:
        url = server.create_database("pulse")
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True,
                       env=env_for(url, "redis://127.0.0.1:1/0"))
        yield server, url
    finally:
        server.remove()


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


class Platform:
    """uvicorn and a Celery worker (prefork, with the stream consumer) on the given servers."""

    def __init__(self, tmp_path, database_url, redis_url, beat=False):
        self.database_url, self.redis_url = database_url, redis_url
        self.port = free_port()
        env = env_for(database_url, redis_url)
        self.logs = [open(tmp_path / "web.log", "wb"), open(tmp_path / "worker.log", "wb")]
        self.procs = [
            subprocess.Popen([sys.executable, "-m", "uvicorn", "pulse.asgi:application", "--host", "127.0.0.1",
                              "--port", str(self.port), "--no-access-log"],
                             cwd=ROOT, env=env, stdout=self.logs[0], stderr=subprocess.STDOUT, start_new_session=True),
            subprocess.Popen([sys.executable, "-m", "celery", "-A", "pulse", "worker", "-l", "WARNING", "--pool=prefork",
                              "--concurrency=1", "--without-heartbeat", "--without-gossip", "--without-mingle",
                              "-Q", "celery"],
                             cwd=ROOT, env=env, stdout=self.logs[1], stderr=subprocess.STDOUT, start_new_session=True),
        ]
        if beat:
            self.logs.append(open(tmp_path / "beat.log", "wb"))
            self.procs.append(subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "pulse", "beat", "-l", "WARNING"],
                cwd=ROOT, env=env, stdout=self.logs[-1], stderr=subprocess.STDOUT, start_new_session=True))
        assert wait_until(lambda: self.ready()[0] in (200, 503), 60), "the web process did not start"

    def close(self):
        for proc in self.procs:
            stop_group(proc)
        for log in self.logs:
            log.close()

    def _request(self, path, data=None, headers=None, timeout=10):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers, exc.read()
        except OSError:
            return None, {}, b""

    def ready(self):
        status, _, body = self._request("/healthz/ready")
        return status, (json.loads(body) if body else None)

    def post(self, key, p):
        """The status of one POST of payload ``p`` (and its Retry-After, if any)."""
        status, headers, _ = self._request(
            "/api/v1/ingest", gzip.compress(json.dumps(p).encode()),
            {"Authorization": f"Bearer {key}", "Content-Encoding": "gzip", "Content-Type": "application/json"},
        )
        return status, headers.get("Retry-After")

    def post_until_accepted(self, key, p, timeout=60):
        """Post as the agent does: again after a 429 or 503, until 202."""
        statuses = []
        assert wait_until(lambda: statuses.append(self.post(key, p)[0]) or statuses[-1] == 202, timeout, every=0.5), \
            f"never accepted: {statuses[-5:]}"
        return statuses

    def seed(self, name):
        """A new organisation with an ingest key: (organisation id, raw key)."""
        out = subprocess.run([sys.executable, "manage.py", "shell", "-c", _SEED.format(name=name)], cwd=ROOT,
                             env=env_for(self.database_url, self.redis_url), check=True, capture_output=True, text=True)
        org_id, key = out.stdout.split()[-2:]  # after what the shell says of itself
        return int(org_id), key

    def sql(self, query, *args):
        with psycopg.connect(self.database_url, connect_timeout=2) as conn:
            return conn.execute(query, args).fetchone()[0]

    def applied(self, org_id):
        return self.sql("SELECT count(*) FROM apm_processedbatch WHERE organization_id = %s", org_id)

    def wait_applied(self, org_id, n, timeout=60):
        assert wait_until(lambda: self.applied(org_id) == n, timeout), f"applied {self.applied(org_id)}, not {n}"

    def counted(self, org_id):
        """Transactions counted in the minute rollups of the organisation."""
        return self.sql("SELECT coalesce(sum(count), 0) FROM apm_appminute WHERE organization_id = %s", org_id)


def _platform(tmp_path, database_url, redis_url, beat=False):
    p = Platform(tmp_path, database_url, redis_url, beat)
    yield p
    p.close()


@pytest.fixture
def platform(tmp_path, postgres, redis_server):
    yield from _platform(tmp_path, postgres[1], redis_server.url)


@pytest.fixture
def platform_with_beat(tmp_path, postgres, redis_server):
    yield from _platform(tmp_path, postgres[1], redis_server.url, beat=True)


def harvest(n, minute_offset=60):
    """A payload of ``n`` transactions in a recent minute."""
    minute = int(time.time()) // 60 * 60 - minute_offset
    return payload("shop", metrics=[metric("checkout", [0.05] * n, minute)])


def test_ingest_workers_and_readiness_heal_after_a_postgresql_restart(platform, postgres):
    server, _ = postgres
    org_id, key = platform.seed("pg-restart")
    assert platform.post(key, harvest(1))[0] == 202
    platform.wait_applied(org_id, 1)
    assert platform.ready()[0] == 200

    server.stop()
    # Readiness answers at once, without waiting DB_POOL_TIMEOUT (10 s, past this request's timeout).
    status, body = platform.ready()
    assert status == 503 and [p.split(":")[0] for p in body["problems"]] == ["database"]
    # A known key needs no database: accepted while PostgreSQL is down, applied once it is back.
    assert platform.post(key, harvest(2))[0] == 202

    server.start()
    assert wait_until(lambda: platform.ready()[0] == 200, 30)
    platform.wait_applied(org_id, 2)  # the worker's consumer thread recycled its connection
    # A key not cached yet: the look-up threads of the web process recycle theirs.
    other_id, other_key = platform.seed("pg-restart-other")
    platform.post_until_accepted(other_key, harvest(4))
    platform.wait_applied(other_id, 1)
    assert platform.counted(org_id) == 3 and platform.counted(other_id) == 4  # nothing lost, nothing twice

    # A Celery task in the worker after the restart: the downsample consumes the hours the batches marked.
    assert platform.sql("SELECT count(*) FROM apm_stalehour WHERE organization_id = %s", org_id) > 0
    Celery(broker=platform.redis_url).send_task("apm.downsample_stale", queue="celery")
    assert wait_until(lambda: platform.sql("SELECT count(*) FROM apm_stalehour") == 0, 60)
    assert platform.sql("SELECT coalesce(sum(count), 0) FROM apm_apphour WHERE organization_id = %s", org_id) == 3


def test_the_stream_its_group_and_scripts_heal_after_a_redis_restart(platform_with_beat, redis_server):
    platform = platform_with_beat
    org_id, key = platform.seed("redis-restart")
    assert platform.post(key, harvest(1))[0] == 202
    platform.wait_applied(org_id, 1)

    redis_server.stop(signal.SIGKILL)  # a crash: the AOF holds every write
    status, body = platform.ready()
    assert status == 503 and {p.split(":")[0] for p in body["problems"]} == {
        "redis (QUEUE_REDIS_URL)", "redis (CACHE_REDIS_URL)"}
    status, retry_after = platform.post(key, harvest(2))
    assert status == 503 and retry_after  # the agent keeps the payload and comes back

    redis_server.start()  # forgot its scripts (NOSCRIPT), kept the stream and its group
    platform.post_until_accepted(key, harvest(2))
    platform.wait_applied(org_id, 2)
    assert wait_until(lambda: platform.ready()[0] == 200, 10)

    # A Redis that lost everything (replaced by an empty one): the stream and the group are
    # gone (NOGROUP); entries queued before the consumer recreates the group are read too.
    redis_server.stop()
    shutil.rmtree(redis_server.dir / "appendonlydir")
    redis_server.start()
    for n in (3, 4):
        platform.post_until_accepted(key, harvest(n))
    platform.wait_applied(org_id, 4)
    assert platform.counted(org_id) == 1 + 2 + 3 + 4

    # Beat published through all of it: its next minute's downsample reaches the worker.
    assert wait_until(lambda: platform.sql("SELECT count(*) FROM apm_stalehour WHERE organization_id = %s",
                                           org_id) == 0, 90, every=1)
    assert platform.sql("SELECT coalesce(sum(count), 0) FROM apm_apphour WHERE organization_id = %s", org_id) == 10
